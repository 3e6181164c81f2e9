# production accounts outside the Legacy OU
data "aft_accounts" "prod" {
  include {
    type         = "tags"
    target_value = [{ Environment = "prod" }]
  }
  exclude {
    type         = "ous"
    target_value = ["Legacy"]
  }
}
