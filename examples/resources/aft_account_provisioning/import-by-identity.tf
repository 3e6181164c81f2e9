# Terraform 1.12+: import by resource identity
terraform {
  # an older Terraform then says which version this needs, before anything else
  required_version = ">= 1.12.0"
}

import {
  to = aft_account_provisioning.sandbox
  identity = {
    account_id = "123456789012"
  }
}
