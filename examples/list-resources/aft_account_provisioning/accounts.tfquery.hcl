# terraform query -generate-config-out=accounts.tf
# finds the accounts an AFT deployment manages and writes a resource and an import block for each
list "aft_account_provisioning" "sandbox" {
  provider         = aft
  include_resource = true

  config {
    organizational_units = ["Sandbox"]
    email                = "*@example.com"
  }
}
