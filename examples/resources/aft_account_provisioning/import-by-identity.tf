# Terraform 1.12+: import by resource identity
import {
  to = aft_account_provisioning.sandbox
  identity = {
    account_id = "123456789012"
  }
}
