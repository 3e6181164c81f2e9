# by name (in the AFT management account and region) or by ARN
terraform import aft_provisioning_customizations.this aft-account-provisioning-customizations
terraform import aft_provisioning_customizations.this arn:aws:states:us-east-1:111111111111:stateMachine:aft-account-provisioning-customizations
