# by account id
terraform import aft_account_provisioning.sandbox 123456789012
# or by the account's email (matched ignoring case)
terraform import aft_account_provisioning.sandbox sandbox@example.com
