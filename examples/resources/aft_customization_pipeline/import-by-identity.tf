# Terraform 1.12+: import by resource identity
import {
  to = aft_customization_pipeline.sandbox
  identity = {
    name = "123456789012-customizations-pipeline"
  }
}
