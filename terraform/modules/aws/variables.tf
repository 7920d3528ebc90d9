variable "name_prefix" {
  description = "Prefix of the names the module gives: functions, their roles and log groups are <prefix>-rotate, <prefix>-sweep, <prefix>-anomaly and <prefix>-usage; rules and the schedule start with <prefix>- too."
  type        = string
  default     = "rekey"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,39}$", var.name_prefix))
    error_message = "The name_prefix must start with a letter and hold 1 to 40 letters, digits or hyphens."
  }
}

variable "function_zips" {
  description = "Paths of the function zips that `cargo lambda build --release --arm64 --output-format zip` writes to target/lambda/<function>/bootstrap.zip, each with rekey.toml added at its root (it becomes /var/task/rekey.toml). rotate and sweep are required; leave anomaly or usage null to deploy without that function and its triggers."
  type = object({
    rotate  = string
    sweep   = string
    anomaly = optional(string)
    usage   = optional(string)
  })

  validation {
    condition     = var.function_zips.rotate != null && var.function_zips.sweep != null
    error_message = "The function_zips.rotate and function_zips.sweep paths are required."
  }

  validation {
    condition     = alltrue([for path in [for _, p in var.function_zips : p] : path == null || can(regex("\\.zip$", path))])
    error_message = "Every path in function_zips must name a .zip file."
  }
}

variable "architecture" {
  description = "Instruction set of every function: arm64 (build with --arm64) or x86_64 (build without it)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "The architecture must be arm64 or x86_64."
  }
}

variable "memory_size" {
  description = "Memory of every function, in MiB."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "The memory_size must be a whole number of MiB from 128 to 10240."
  }
}

variable "function_timeouts" {
  description = "Timeout of each function, in seconds. A sweep rotates many credentials, so it gets the longest."
  type = object({
    rotate  = optional(number, 60)
    sweep   = optional(number, 900)
    anomaly = optional(number, 30)
    usage   = optional(number, 60)
  })
  default = {}

  validation {
    condition     = alltrue([for _, t in var.function_timeouts : t >= 1 && t <= 900 && floor(t) == t])
    error_message = "Every function timeout must be a whole number of seconds from 1 to 900."
  }
}

variable "log_level" {
  description = "RUST_LOG of every function: a level (info) or filter directives (info,rekey_core=debug)."
  type        = string
  default     = "info"

  validation {
    condition     = can(regex("^[A-Za-z0-9_:=,.-]+$", var.log_level))
    error_message = "The log_level must be RUST_LOG directives: letters, digits and _ : = , . - only."
  }
}

variable "log_retention_days" {
  description = "How long the functions' CloudWatch log groups, which carry the audit trail, keep events, in days (0 keeps them forever)."
  type        = number
  default     = 365

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "The log_retention_days must be a retention CloudWatch Logs offers: 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer managed KMS key that encrypts the log groups and the ledger table; its key policy must let logs.<region>.amazonaws.com use it. Null leaves the log groups to CloudWatch Logs' own encryption and the table to the AWS managed key aws/dynamodb."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "The kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias."
  }
}

variable "secrets_kms_key_arns" {
  description = "ARNs of the customer managed KMS keys that encrypt managed or webhook secrets; the functions may decrypt and encrypt with them through Secrets Manager only. Secrets under the AWS managed key need none."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.secrets_kms_key_arns : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", arn))])
    error_message = "Every secrets_kms_key_arns entry must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias."
  }
}

variable "ledger_table_name" {
  description = "Name of the DynamoDB ledger table; rekey.toml's [ledger] table must name it too."
  type        = string
  default     = "rekey-ledger"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.ledger_table_name))
    error_message = "The ledger_table_name must hold 3 to 255 letters, digits, underscores, dots or hyphens."
  }
}

variable "ledger_deletion_protection" {
  description = "Whether the ledger table refuses deletion; set false and apply before destroying the module."
  type        = bool
  default     = true
}

variable "event_bus_name" {
  description = "Name of the custom EventBridge bus rekey publishes its own events to (source rekey: Rotation Completed, Rotation Failed, Credential Revoked)."
  type        = string
  default     = "rekey"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,256}$", var.event_bus_name)) && var.event_bus_name != "default"
    error_message = "The event_bus_name must hold 1 to 256 letters, digits, dots, underscores or hyphens and must not be default."
  }
}

variable "sweep_rate" {
  description = "How often EventBridge Scheduler wakes rekey-sweep, as the inside of rate(): 1 minute, 5 minutes, 1 hour, 12 hours, 1 day."
  type        = string
  default     = "5 minutes"

  validation {
    condition     = can(regex("^(1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))$", var.sweep_rate))
    error_message = "The sweep_rate must be <value> <unit>, with a singular unit for 1 (1 hour) and a plural one above (5 minutes)."
  }
}

variable "managed_user_path" {
  description = "IAM path of the users whose access keys rekey may create, deactivate and delete, and whom it may tag with its marks (tags keyed by an access key id). / means every user of the account; a narrower path such as /service-accounts/ is safer."
  type        = string
  default     = "/"

  validation {
    condition     = can(regex("^/([A-Za-z0-9+=,.@_-]+/)*$", var.managed_user_path)) && length(var.managed_user_path) <= 512
    error_message = "The managed_user_path must be an IAM path: / or /segment/.../, without wildcards."
  }
}

variable "managed_role_path" {
  description = "IAM path of the roles whose older sessions rekey-anomaly may revoke by writing the inline policy rekey-revoke-older-sessions, on roles that also carry the tag rekey:policy. IAM cannot restrict PutRolePolicy to one policy name, so rekey may write any inline policy on those roles: keep the path as narrow as you can."
  type        = string
  default     = "/"

  validation {
    condition     = can(regex("^/([A-Za-z0-9+=,.@_-]+/)*$", var.managed_role_path)) && length(var.managed_role_path) <= 512
    error_message = "The managed_role_path must be an IAM path: / or /segment/.../, without wildcards."
  }
}

variable "github_webhook_secret_arn" {
  description = "Full ARN (with its six-character suffix) of the Secrets Manager secret holding GitHub's webhook secret; rekey-anomaly gets it as REKEY_GITHUB_WEBHOOK_SECRET_ARN and may read that secret only. Null: no GitHub webhook."
  type        = string
  default     = null

  validation {
    condition     = var.github_webhook_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$", var.github_webhook_secret_arn))
    error_message = "The github_webhook_secret_arn must be a full secret ARN, ending in the secret's name and its six-character suffix (…:secret:name-AbCdEf)."
  }
}

variable "github_token_secret_arn" {
  description = "Full ARN (with its six-character suffix) of the Secrets Manager secret holding a GitHub token that may read secret scanning alerts; rekey-anomaly gets it as REKEY_GITHUB_TOKEN_ARN and may read that secret only. A delivery does not carry the leaked value, so without it GitHub alerts are acknowledged and not acted on."
  type        = string
  default     = null

  validation {
    condition     = var.github_token_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$", var.github_token_secret_arn))
    error_message = "The github_token_secret_arn must be a full secret ARN, ending in the secret's name and its six-character suffix (…:secret:name-AbCdEf)."
  }
}

variable "signed_webhook_secret_arn" {
  description = "Full ARN (with its six-character suffix) of the Secrets Manager secret holding the HMAC key for rekey's own signed webhook; rekey-anomaly gets it as REKEY_SIGNED_WEBHOOK_SECRET_ARN and may read that secret only. Null: no signed webhook."
  type        = string
  default     = null

  validation {
    condition     = var.signed_webhook_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$", var.signed_webhook_secret_arn))
    error_message = "The signed_webhook_secret_arn must be a full secret ARN, ending in the secret's name and its six-character suffix (…:secret:name-AbCdEf)."
  }
}

variable "track_access_key_usage" {
  description = "Whether rekey-usage also receives every API call made with a long-term access key (AKIA...) of a user under managed_user_path, read-only calls included; these can be many events."
  type        = bool
  default     = false
}

variable "permissions_boundary_arn" {
  description = "ARN of an IAM policy set as the permissions boundary of every role the module creates; null sets none."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.permissions_boundary_arn))
    error_message = "The permissions_boundary_arn must be an IAM policy ARN (arn:aws:iam::<account>:policy/<name>)."
  }
}

variable "tags" {
  description = "Tags for every resource that takes them."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for key in keys(var.tags) : !startswith(lower(key), "aws:")])
    error_message = "Tag keys must not start with aws:, which AWS reserves."
  }
}
