# terraform query -generate-config-out=generated.tf
# aft-convert --rename-generated generated.tf
# finds the Sandbox accounts and the customizations pipelines AFT built for them, writes a resource
# and an import block for each, then names the blocks after the accounts
list "aft_account_provisioning" "accounts" {
  provider         = aft
  include_resource = true

  config {
    organizational_units = ["Sandbox"]
  }
}

list "aft_customization_pipeline" "pipelines" {
  provider         = aft
  include_resource = true

  config {
    organizational_units = ["Sandbox"]
  }
}
