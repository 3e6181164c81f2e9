# A fleet: accounts from a map, one customizations pipeline per account, and a rollout filter
# (AFT's include/exclude targeting) that decides which accounts get a new customizations version.
# `terraform plan` lists exactly the pipelines that will run again.

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

variable "accounts" {
  description = "Account name => OU and environment."
  type = map(object({
    ou          = string
    environment = string
  }))
  default = {
    payments-dev  = { ou = "Sandbox", environment = "dev" }
    payments-prod = { ou = "Prod", environment = "prod" }
  }
}

variable "email_domain" {
  type    = string
  default = "example.com"
}

variable "customizations_version" {
  description = "The version rolled out to the accounts the rollout filter selects."
  type        = string
  default     = "1"
}

variable "stable_customizations_version" {
  description = "The version every other account stays on."
  type        = string
  default     = "1"
}

variable "rollout" {
  description = "Which accounts get customizations_version: an AFT target (all, core, ous, tags, accounts)."
  type = object({
    type         = string
    target_value = optional(list(string))
    tags         = optional(list(map(string)))
  })
  default = { type = "all" }
}

provider "aft" {
  assume_role {
    role_arn = var.aft_admin_role_arn
  }
  account_factory {
    method = "organizations"
  }
}

resource "aft_account_provisioning" "fleet" {
  for_each = var.accounts

  control_tower_parameters = {
    AccountEmail              = "${each.key}@${var.email_domain}"
    AccountName               = each.key
    ManagedOrganizationalUnit = each.value.ou
    SSOUserEmail              = "platform@${var.email_domain}"
    SSOUserFirstName          = "Platform"
    SSOUserLastName           = "Team"
  }
  account_tags = {
    Environment = each.value.environment
  }
}

# Read at plan time, from what AWS holds now. No depends_on on the fleet: Terraform would then
# defer the read to apply whenever any account changes, every `triggers` below would be unknown,
# and the plan would list every pipeline as changing. An account added in this apply joins the
# rollout at the next plan.
data "aft_accounts" "rollout" {
  include {
    type         = var.rollout.type
    target_value = var.rollout.target_value
    tags         = var.rollout.tags
  }
}

resource "aft_customization_pipeline" "fleet" {
  for_each = aft_account_provisioning.fleet

  account_id = each.value.account_id
  triggers = {
    customizations_version = contains(data.aft_accounts.rollout.ids, each.value.account_id) ? var.customizations_version : var.stable_customizations_version
  }
}

output "pipelines" {
  value = { for k, p in aft_customization_pipeline.fleet : k => p.last_execution_id }
}
