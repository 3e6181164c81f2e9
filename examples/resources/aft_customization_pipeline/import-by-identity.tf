# Terraform 1.12+: import by resource identity
terraform {
  # an older Terraform then says which version this needs, before anything else
  required_version = ">= 1.12.0"
}

import {
  to = aft_customization_pipeline.sandbox
  identity = {
    name = "123456789012-customizations-pipeline"
  }
}
