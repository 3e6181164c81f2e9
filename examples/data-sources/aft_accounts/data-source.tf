# production accounts outside the Legacy OU
data "aft_accounts" "prod" {
  include {
    type = "tags"
    tags = [{ Environment = "prod" }]
  }
  exclude {
    type         = "ous"
    target_value = ["Legacy"]
  }
}
