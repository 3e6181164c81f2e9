# accounts the platform team owns, outside the Parking OU
data "aft_accounts" "platform" {
  include {
    type = "tags"
    tags = [{ Owner = "platform" }]
  }
  exclude {
    type         = "ous"
    target_value = ["Parking"]
  }
}

output "platform_account_ids" {
  value = data.aft_accounts.platform.ids
}
