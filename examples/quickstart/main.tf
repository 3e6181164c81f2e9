# Three accounts vended and provisioned by AFT's pipeline, from `terraform apply`.
# `make demo` runs this against a local AWS emulator; against real AWS, point the provider at
# your AFT management account (see the README).

terraform {
  required_providers {
    aft = {
      source = "aft-rs/aft"
    }
  }
}

variable "aft_admin_role_arn" {
  description = "AWSAFTAdmin in the AFT management account."
  type        = string
}

provider "aft" {
  assume_role {
    role_arn = var.aft_admin_role_arn
  }
  account_factory {
    # `control_tower` (the default) vends through Control Tower's Account Factory; a local
    # emulator has no Control Tower, so the quickstart uses Organizations directly.
    method = "organizations"
  }
}

# The provisioning customizations state machine (seed step 7), checked at plan time.
resource "aft_provisioning_customizations" "this" {
  definition = file("${path.module}/customizations.asl.json")
}

locals {
  # accounts re-run their customizations whenever the state machine changes
  rerun = { customizations = aft_provisioning_customizations.this.revision_id }
}

resource "aft_account_provisioning" "sandbox" {
  control_tower_parameters = {
    AccountEmail              = "sandbox@example.com"
    AccountName               = "sandbox"
    ManagedOrganizationalUnit = "Sandbox"
    SSOUserEmail              = "ada@example.com"
    SSOUserFirstName          = "Ada"
    SSOUserLastName           = "Lovelace"
  }
  account_tags = {
    Owner       = "platform"
    Environment = "sandbox"
  }
  custom_fields = {
    cost_center = "1234"
  }
  account_customizations_name = "sandbox"
  rerun_triggers              = local.rerun
  change_management_parameters = {
    change_requested_by = "ada"
    change_reason       = "quickstart"
  }
}

resource "aft_account_provisioning" "workloads" {
  control_tower_parameters = {
    AccountEmail              = "workloads@example.com"
    AccountName               = "workloads"
    ManagedOrganizationalUnit = "Workloads"
    SSOUserEmail              = "grace@example.com"
    SSOUserFirstName          = "Grace"
    SSOUserLastName           = "Hopper"
  }
  account_tags = {
    Owner       = "payments"
    Environment = "staging"
  }
  rerun_triggers = local.rerun
}

resource "aft_account_provisioning" "prod" {
  control_tower_parameters = {
    AccountEmail              = "prod@example.com"
    AccountName               = "prod"
    ManagedOrganizationalUnit = "Prod"
    SSOUserEmail              = "grace@example.com"
    SSOUserFirstName          = "Grace"
    SSOUserLastName           = "Hopper"
  }
  account_tags = {
    Owner       = "payments"
    Environment = "prod"
  }
  rerun_triggers = local.rerun
  close_account_on_delete = false
}

# Seed steps 8 and 9: one customizations pipeline per account, run on create and whenever
# customizations_version changes.
variable "customizations_version" {
  type    = string
  default = "1"
}

resource "aft_customization_pipeline" "this" {
  for_each = {
    sandbox   = aft_account_provisioning.sandbox.account_id
    workloads = aft_account_provisioning.workloads.account_id
    prod      = aft_account_provisioning.prod.account_id
  }
  account_id = each.value
  triggers = {
    customizations_version = var.customizations_version
  }
}

output "accounts" {
  value = {
    for name, a in {
      sandbox   = aft_account_provisioning.sandbox
      workloads = aft_account_provisioning.workloads
      prod      = aft_account_provisioning.prod
    } : name => {
      account_id         = a.account_id
      parent_ou_id       = a.parent_ou_id
      execution_role_arn = a.execution_role_arn
      framework_run_id   = a.framework_run_id
      pipeline           = aft_customization_pipeline.this[name].name
      pipeline_execution = aft_customization_pipeline.this[name].last_execution_id
    }
  }
}
