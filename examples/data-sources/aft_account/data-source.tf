data "aft_account" "sandbox" {
  email = "sandbox@example.com"
}

output "sandbox_account_id" {
  value = data.aft_account.sandbox.account_id
}
