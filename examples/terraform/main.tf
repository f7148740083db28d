# pgtune -> cloud parameter group parameters.
#
# Reads the document of `pgtune generate --format json` (docs/output-format.md) and turns its
# settings into the list that parameter groups take: {name, value, apply_method}. No provider and
# no resource: only variables, locals and outputs, so it works with any cloud provider (or none)
# and `terraform init` needs no network. See examples/README.md for an aws_db_parameter_group.

terraform {
  required_version = ">= 1.3"
}

variable "pgtune_json_path" {
  description = "Path of the file written by `pgtune generate --format json`."
  type        = string
}

variable "exclude" {
  description = "Settings to leave out, e.g. those a managed service does not let you change (RDS, for one, fixes log_line_prefix)."
  type        = list(string)
  default     = []
}

locals {
  doc = jsondecode(file(var.pgtune_json_path))

  settings = {
    for name, s in local.doc.settings : name => s if !contains(var.exclude, name)
  }

  # Parameter groups take the value the way pg_settings shows it: a plain number in the
  # parameter's own unit (shared_buffers in 8kB pages, work_mem in kB), not "4GB".
  parameters = [
    for name, s in local.settings : {
      name         = name
      value        = s.setting
      apply_method = s.applies == "restart" ? "pending-reboot" : "immediate"
    }
  ]
}

output "parameters" {
  description = "One {name, value, apply_method} per setting, sorted by name; value in the parameter's unit (pg_settings.setting), apply_method pending-reboot for restart-context settings, else immediate."
  value       = local.parameters

  precondition {
    condition     = local.doc.format_version == 1
    error_message = "This module reads pgtune JSON format_version 1; ${var.pgtune_json_path} has format_version ${local.doc.format_version}."
  }
}

output "restart_required" {
  description = "Names of the settings that only take effect after a restart (reboot)."
  value       = sort([for name, s in local.settings : name if s.applies == "restart"])
}

output "config_values" {
  description = "name => value as written in postgresql.conf, with its unit (\"4GB\", \"15min\")."
  value       = { for name, s in local.settings : name => s.value }
}

output "pg_version" {
  description = "PostgreSQL major version the settings are for (RDS parameter group family: postgres<version>)."
  value       = local.doc.inputs.pg_version
}
