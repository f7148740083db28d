# Root configuration that uses the pgtune module (examples/terraform) and shows its outputs:
#
#   pgtune generate --memory 16GB --cpus 4 --storage ssd --pg-version 16 --format json \
#     -o examples/terraform/example/pgtune.json
#   terraform -chdir=examples/terraform/example init
#   terraform -chdir=examples/terraform/example apply
#   terraform -chdir=examples/terraform/example output -json parameters
#
# No provider, no resource: `apply` only records the outputs in the local state.

terraform {
  required_version = ">= 1.3"
}

variable "pgtune_json_path" {
  description = "Path of the `pgtune generate --format json` file (relative to the working directory)."
  type        = string
  default     = "pgtune.json"
}

variable "exclude" {
  description = "Settings to leave out of the parameter list."
  type        = list(string)
  default     = []
}

module "pgtune" {
  source           = "../"
  pgtune_json_path = var.pgtune_json_path
  exclude          = var.exclude
}

output "parameters" {
  value = module.pgtune.parameters
}

output "restart_required" {
  value = module.pgtune.restart_required
}

output "config_values" {
  value = module.pgtune.config_values
}

output "pg_version" {
  value = module.pgtune.pg_version
}
