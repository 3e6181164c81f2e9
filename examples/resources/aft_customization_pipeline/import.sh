# by pipeline name
terraform import aft_customization_pipeline.sandbox 123456789012-customizations-pipeline
