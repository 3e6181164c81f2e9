# The provisioning customizations state machine of the seed, deployed and checked by the provider,
# and an account that re-runs its customizations whenever the definition changes.

terraform {
  required_providers {
    aft = {
      source = "aft-rs/aft"
    }
  }
}

variable "aft_admin_role_arn" {
  type = string
}

provider "aft" {
  assume_role {
    role_arn = var.aft_admin_role_arn
  }
  account_factory {
    method = "organizations"
  }
}

# Checked at `terraform plan`: JSON, StartAt, Next/Default/Catch targets, Next or End, reachability,
# state types, Choice rules, Task resources, Parallel branches and Map processors.
resource "aft_provisioning_customizations" "this" {
  definition = file("${path.module}/customizations.asl.json")

  # the role the provider creates may carry the permissions your Task states need
  role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["sns:Publish"]
      Resource = "*"
    }]
  })

  tags = {
    managed_by = "terraform"
  }
}

resource "aft_account_provisioning" "payments_prod" {
  control_tower_parameters = {
    AccountEmail              = "payments-prod@example.com"
    AccountName               = "payments-prod"
    ManagedOrganizationalUnit = "Prod"
    SSOUserEmail              = "grace@example.com"
    SSOUserFirstName          = "Grace"
    SSOUserLastName           = "Hopper"
  }
  account_tags = {
    Environment = "prod"
  }

  # `terraform plan` lists this account as re-running whenever the definition changes
  rerun_triggers = {
    customizations = aft_provisioning_customizations.this.revision_id
  }
}
