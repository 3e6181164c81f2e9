resource "aft_account_provisioning" "sandbox" {
  control_tower_parameters = {
    AccountEmail              = "sandbox@example.com"
    AccountName               = "sandbox"
    ManagedOrganizationalUnit = "Sandbox (ou-ab12-cdefgh34)"
    SSOUserEmail              = "ada@example.com"
    SSOUserFirstName          = "Ada"
    SSOUserLastName           = "Lovelace"
  }

  account_tags = {
    Owner = "platform"
  }
  custom_fields = {
    cost_center = "1234"
  }
  account_customizations_name = "sandbox"
  change_management_parameters = {
    change_requested_by = "ada"
    change_reason       = "new sandbox"
  }

  # re-run the framework when the customizations change
  rerun_triggers = {
    customizations = "v3"
  }

  # on destroy: keep the account, but park it
  parking_organizational_unit = "Parking"

  timeouts {
    create = "1h"
  }
}
