# terraform apply -invoke=action.aft_invoke_customizations.platform
# re-runs the provisioning framework and the customization pipelines of the platform team's
# accounts outside the Parking OU; no configuration or state changes
terraform {
  # an older Terraform then says which version this needs, before anything else
  required_version = ">= 1.14.0"
}

action "aft_invoke_customizations" "platform" {
  config {
    include {
      type = "tags"
      tags = [{ Owner = "platform" }]
    }
    exclude {
      type         = "ous"
      target_value = ["Parking"]
    }
    rerun_framework     = true
    run_pipelines       = true
    wait_for_completion = true
  }
}
