resource "aft_customization_pipeline" "sandbox" {
  account_id = aft_account_provisioning.sandbox.account_id

  source {
    provider                          = "CodeStarSourceConnection"
    connection_arn                    = "arn:aws:codestar-connections:us-east-1:111111111111:connection/abcd-1234"
    global_customizations_repository  = "my-org/aft-global-customizations"
    account_customizations_repository = "my-org/aft-account-customizations"
  }

  # AFT's artifact key, as AFT's own pipelines have it (left out, the pipeline keeps whatever key it has)
  encryption_key = {
    id = "arn:aws:kms:us-east-1:111111111111:alias/aft"
  }

  # a change runs the pipeline again
  triggers = {
    customizations_version = "42"
  }
}
