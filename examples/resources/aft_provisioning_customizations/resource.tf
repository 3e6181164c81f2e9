resource "aft_provisioning_customizations" "this" {
  definition = file("${path.module}/customizations.asl.json")
}
