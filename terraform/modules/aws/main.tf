# rekey in one AWS account and region: the functions, what wakes them, the
# ledger and the bus rekey publishes to. iam.tf holds every permission.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  # Each function, the IAM concerns its role gets beyond logs, ledger and
  # bus (see iam.tf), and its zip. A function without a zip is left out.
  function_specs = {
    rotate = {
      description = "rekey: the Secrets Manager rotation contract (createSecret, setSecret, testSecret, finishSecret)"
      concerns    = ["secrets", "access_keys"]
      zip         = var.function_zips.rotate
    }
    sweep = {
      description = "rekey: the timer; decides which credentials are due and rotates them"
      concerns    = ["secrets", "access_keys"]
      zip         = var.function_zips.sweep
    }
    anomaly = {
      description = "rekey: revokes and rotates on AWS Health, GuardDuty and signed webhooks"
      concerns    = ["secrets", "access_keys", "role_sessions", "webhook_secrets"]
      zip         = var.function_zips.anomaly
    }
    usage = {
      description = "rekey: counts credential uses from CloudTrail and rotates past the threshold"
      concerns    = ["secrets", "access_keys"]
      zip         = var.function_zips.usage
    }
  }

  functions = {
    for key, spec in local.function_specs : key => merge(spec, {
      name      = "${var.name_prefix}-${key}"
      log_group = "/aws/lambda/${var.name_prefix}-${key}"
    }) if spec.zip != null
  }

  # rekey-usage must not count rekey's own reads as uses: it ignores calls
  # whose caller ARN starts with one of these (a function's sessions).
  ignored_principals = join(",", [
    for key, function in local.functions :
    "arn:${local.partition}:sts::${local.account_id}:assumed-role/${function.name}/"
  ])

  common_environment = {
    REKEY_CONFIG    = "/var/task/rekey.toml"
    REKEY_DATA_DIR  = "/tmp/rekey"
    REKEY_EVENT_BUS = aws_cloudwatch_event_bus.this.name
    RUST_LOG        = var.log_level
  }

  # Variables of one function only. Lambda cannot resolve Secrets Manager
  # references in environment variables, so rekey-anomaly gets the ARNs
  # and reads the values itself.
  function_environment = {
    anomaly = merge(
      var.github_webhook_secret_arn == null ? {} : { REKEY_GITHUB_WEBHOOK_SECRET_ARN = var.github_webhook_secret_arn },
      var.signed_webhook_secret_arn == null ? {} : { REKEY_SIGNED_WEBHOOK_SECRET_ARN = var.signed_webhook_secret_arn },
      var.github_token_secret_arn == null ? {} : { REKEY_GITHUB_TOKEN_ARN = var.github_token_secret_arn },
    )
    usage = { REKEY_IGNORED_PRINCIPALS = local.ignored_principals }
  }

  # Events on the default bus that wake a function. GetSecretValue and most
  # calls made with access keys are read-only management events, which
  # EventBridge delivers only to rules in state
  # ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS.
  rule_specs = {
    health-risk = {
      function    = "anomaly"
      description = "AWS Health risk events (AWS_RISK_CREDENTIALS_EXPOSED and others) to rekey-anomaly"
      state       = "ENABLED"
      enabled     = true
      pattern = {
        source        = ["aws.health"]
        "detail-type" = ["AWS Health Event"]
        detail        = { eventTypeCode = [{ prefix = "AWS_RISK_" }] }
      }
    }
    guardduty-access-key = {
      function    = "anomaly"
      description = "GuardDuty findings about an access key to rekey-anomaly"
      state       = "ENABLED"
      enabled     = true
      pattern = {
        source        = ["aws.guardduty"]
        "detail-type" = ["GuardDuty Finding"]
        detail        = { resource = { resourceType = ["AccessKey"] } }
      }
    }
    secret-reads = {
      function    = "usage"
      description = "Secrets Manager GetSecretValue calls to rekey-usage"
      state       = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
      enabled     = true
      pattern = {
        source        = ["aws.secretsmanager"]
        "detail-type" = ["AWS API Call via CloudTrail"]
        detail = {
          eventSource = ["secretsmanager.amazonaws.com"]
          eventName   = ["GetSecretValue"]
        }
      }
    }
    access-key-calls = {
      function    = "usage"
      description = "API calls made with a long-term access key of a managed user to rekey-usage"
      state       = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
      enabled     = var.track_access_key_usage
      pattern = {
        "detail-type" = ["AWS API Call via CloudTrail"]
        detail = {
          userIdentity = {
            type        = ["IAMUser"]
            arn         = [{ prefix = "arn:${local.partition}:iam::${local.account_id}:user${var.managed_user_path}" }]
            accessKeyId = [{ prefix = "AKIA" }]
          }
        }
      }
    }
  }

  rules = {
    for key, rule in local.rule_specs : key => rule
    if rule.enabled && contains(keys(local.functions), rule.function)
  }

  # EventBridge Scheduler fills in the placeholders; rekey-sweep parses this
  # shape (events/eventbridge-scheduler.json). Written out because
  # jsonencode() would escape < and > and hide the placeholders.
  sweep_input = <<-JSON
    {
      "source": "aws.scheduler",
      "schedule_arn": "<aws.scheduler.schedule-arn>",
      "scheduled_time": "<aws.scheduler.scheduled-time>",
      "execution_id": "<aws.scheduler.execution-id>",
      "attempt_number": "<aws.scheduler.attempt-number>"
    }
  JSON

}

# Functions

resource "aws_cloudwatch_log_group" "this" {
  for_each = local.functions

  name              = each.value.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  for_each = local.functions

  function_name = each.value.name
  description   = each.value.description
  role          = aws_iam_role.function[each.key].arn

  filename         = each.value.zip
  source_code_hash = filebase64sha256(each.value.zip)
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  memory_size      = var.memory_size
  timeout          = var.function_timeouts[each.key]

  environment {
    variables = merge(local.common_environment, lookup(local.function_environment, each.key, {}))
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this[each.key].name
  }

  tags = var.tags

  # Nothing can trigger the function before its role holds every policy.
  depends_on = [
    aws_iam_role_policy.logs,
    aws_iam_role_policy.ledger,
    aws_iam_role_policy.ledger_kms,
    aws_iam_role_policy.events,
    aws_iam_role_policy.secrets,
    aws_iam_role_policy.secrets_kms,
    aws_iam_role_policy.access_keys,
    aws_iam_role_policy.role_sessions,
    aws_iam_role_policy.webhook_secrets,
  ]
}

# Secrets Manager calls rekey-rotate for the secrets whose rotation function
# it is, in this account only.
resource "aws_lambda_permission" "secrets_manager" {
  statement_id   = "AllowSecretsManagerRotation"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this["rotate"].function_name
  principal      = "secretsmanager.amazonaws.com"
  source_account = local.account_id
}

# The webhook URL. Authorization is NONE because GitHub and rekey's own
# signers cannot sign AWS requests: rekey-anomaly authenticates every
# request itself, by HMAC with a constant-time compare, before it parses
# the body.
resource "aws_lambda_function_url" "this" {
  count = contains(keys(local.functions), "anomaly") ? 1 : 0

  function_name      = aws_lambda_function.this["anomaly"].function_name
  authorization_type = "NONE"
  invoke_mode        = "BUFFERED"
}

resource "aws_lambda_permission" "function_url" {
  count = length(aws_lambda_function_url.this)

  statement_id           = "AllowPublicFunctionUrl"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.this["anomaly"].function_name
  principal              = "*"
  function_url_auth_type = "NONE"
}

# Ledger

resource "aws_dynamodb_table" "this" {
  name                        = var.ledger_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.ledger_deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  # Processed event ids carry ttl; claims and counters do not.
  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}

# rekey's own events

resource "aws_cloudwatch_event_bus" "this" {
  name = var.event_bus_name
  tags = var.tags
}

# Timer

# A group of rekey's own, so that the scheduler role trusts rekey's
# schedules and no other.
resource "aws_scheduler_schedule_group" "this" {
  name = var.name_prefix
  tags = var.tags
}

resource "aws_scheduler_schedule" "this" {
  name                = "${var.name_prefix}-sweep"
  group_name          = aws_scheduler_schedule_group.this.name
  description         = "Wakes rekey-sweep"
  schedule_expression = "rate(${var.sweep_rate})"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this["sweep"].arn
    role_arn = aws_iam_role.scheduler.arn
    input    = local.sweep_input
  }

  depends_on = [aws_iam_role_policy.scheduler_invoke]
}

# Triggers on the default bus

resource "aws_cloudwatch_event_rule" "trigger" {
  for_each = local.rules

  name          = "${var.name_prefix}-${each.key}"
  description   = each.value.description
  event_pattern = jsonencode(each.value.pattern)
  state         = each.value.state
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "trigger" {
  for_each = local.rules

  rule = aws_cloudwatch_event_rule.trigger[each.key].name
  arn  = aws_lambda_function.this[each.value.function].arn
}

resource "aws_lambda_permission" "trigger" {
  for_each = local.rules

  statement_id  = "AllowEventBridge-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[each.value.function].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.trigger[each.key].arn
}
