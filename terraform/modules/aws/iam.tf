# One role per function, one inline policy per concern, each scoped to the
# exact resources it touches:
#
# | concern         | rotate | sweep | anomaly | usage |
# |-----------------|--------|-------|---------|-------|
# | logs            | x      | x     | x       | x     |
# | ledger          | x      | x     | x       | x     |
# | events          | x      | x     | x       | x     |
# | secrets         | x      | x     | x       | x     |
# | access_keys     | x      | x     | x       | x     |
# | role_sessions   |        |       | x       |       |
# | webhook_secrets |        |       | x       |       |
#
# ledger_kms and secrets_kms follow ledger and secrets when keys are given.

locals {
  functions_with = {
    for concern in ["secrets", "access_keys", "role_sessions", "webhook_secrets"] :
    concern => { for key, function in local.functions : key => function if contains(function.concerns, concern) }
  }

  secret_arns_pattern = "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:*"
  managed_users       = "arn:${local.partition}:iam::${local.account_id}:user${var.managed_user_path}*"
  managed_roles       = "arn:${local.partition}:iam::${local.account_id}:role${var.managed_role_path}*"
  webhook_secret_arns = compact([var.github_webhook_secret_arn, var.signed_webhook_secret_arn, var.github_token_secret_arn])

  # The roles this module creates; rekey never writes policies on them.
  own_role_arns = concat([for role in aws_iam_role.function : role.arn], [aws_iam_role.scheduler.arn])
}

# Function roles

data "aws_iam_policy_document" "lambda_trust" {
  statement {
    sid     = "LambdaAssumesRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each = local.functions

  name                 = each.value.name
  description          = "Execution role of ${each.value.name}"
  assume_role_policy   = data.aws_iam_policy_document.lambda_trust.json
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

# logs: write to the function's own log group, which Terraform creates.

data "aws_iam_policy_document" "logs" {
  for_each = local.functions

  statement {
    sid       = "WriteOwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this[each.key].arn}:*"]
  }
}

resource "aws_iam_role_policy" "logs" {
  for_each = local.functions

  name   = "logs"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.logs[each.key].json
}

# ledger: item reads and conditional writes on the ledger table only.

data "aws_iam_policy_document" "ledger" {
  statement {
    sid       = "LedgerItems"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.this.arn]
  }
}

resource "aws_iam_role_policy" "ledger" {
  for_each = local.functions

  name   = "ledger"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.ledger.json
}

# ledger_kms: the table's customer managed key, through DynamoDB only.

data "aws_iam_policy_document" "ledger_kms" {
  count = var.kms_key_arn == null ? 0 : 1

  statement {
    sid       = "LedgerKeyViaDynamoDb"
    actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"]
    resources = [var.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "ledger_kms" {
  for_each = var.kms_key_arn == null ? {} : local.functions

  name   = "ledger-kms"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.ledger_kms[0].json
}

# events: publish rekey's own events (source rekey) on its bus.

data "aws_iam_policy_document" "events" {
  statement {
    sid       = "PublishRekeyEvents"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.this.arn]

    condition {
      test     = "StringEquals"
      variable = "events:source"
      values   = ["rekey"]
    }
  }
}

resource "aws_iam_role_policy" "events" {
  for_each = local.functions

  name   = "events"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.events.json
}

# secrets: rotate the secrets that carry the tag rekey:policy. ListSecrets
# takes no resource, so it is the one action on "*".

data "aws_iam_policy_document" "secrets" {
  statement {
    sid       = "ListSecrets"
    actions   = ["secretsmanager:ListSecrets"]
    resources = ["*"]
  }

  statement {
    sid = "RotateManagedSecrets"
    actions = [
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetSecretValue",
      "secretsmanager:ListSecretVersionIds",
      "secretsmanager:PutSecretValue",
      "secretsmanager:UpdateSecretVersionStage",
    ]
    resources = [local.secret_arns_pattern]

    condition {
      test     = "Null"
      variable = "aws:ResourceTag/rekey:policy"
      values   = ["false"]
    }
  }
}

resource "aws_iam_role_policy" "secrets" {
  for_each = local.functions_with.secrets

  name   = "secrets"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.secrets.json
}

# secrets_kms: the secrets' customer managed keys, through Secrets Manager
# only (GetSecretValue decrypts, PutSecretValue generates a data key).

data "aws_iam_policy_document" "secrets_kms" {
  count = length(var.secrets_kms_key_arns) == 0 ? 0 : 1

  statement {
    sid       = "SecretKeysViaSecretsManager"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = var.secrets_kms_key_arns

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "secrets_kms" {
  for_each = length(var.secrets_kms_key_arns) == 0 ? {} : local.functions_with.secrets

  name   = "secrets-kms"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.secrets_kms[0].json
}

# access_keys: rotate and revoke the access keys of users under
# managed_user_path. rekey marks each key it creates with a tag on the user
# whose key is the access key id, so tags keyed AKIA... only.

data "aws_iam_policy_document" "access_keys" {
  statement {
    sid = "ManageAccessKeys"
    actions = [
      "iam:CreateAccessKey",
      "iam:DeleteAccessKey",
      "iam:ListAccessKeys",
      "iam:ListUserTags",
      "iam:UpdateAccessKey",
    ]
    resources = [local.managed_users]
  }

  statement {
    sid       = "TagManagedUsers"
    actions   = ["iam:TagUser", "iam:UntagUser"]
    resources = [local.managed_users]

    condition {
      test     = "ForAllValues:StringLike"
      variable = "aws:TagKeys"
      values   = ["AKIA*"]
    }
  }
}

resource "aws_iam_role_policy" "access_keys" {
  for_each = local.functions_with.access_keys

  name   = "access-keys"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.access_keys.json
}

# role_sessions: revoke a role's older sessions by writing the inline policy
# rekey-revoke-older-sessions (a deny on aws:TokenIssueTime) on roles under
# managed_role_path that carry the tag rekey:policy. GetRole reads that tag,
# so it has no tag condition. IAM has no condition key for the policy name,
# so the name is rekey's promise, not IAM's; the module's own roles are
# denied.

data "aws_iam_policy_document" "role_sessions" {
  count = length(local.functions_with.role_sessions) == 0 ? 0 : 1

  statement {
    sid       = "ReadManagedRoles"
    actions   = ["iam:GetRole"]
    resources = [local.managed_roles]
  }

  statement {
    sid       = "RevokeOlderSessions"
    actions   = ["iam:GetRolePolicy", "iam:PutRolePolicy"]
    resources = [local.managed_roles]

    condition {
      test     = "Null"
      variable = "aws:ResourceTag/rekey:policy"
      values   = ["false"]
    }
  }

  statement {
    sid       = "NeverOwnRoles"
    effect    = "Deny"
    actions   = ["iam:PutRolePolicy"]
    resources = local.own_role_arns
  }
}

resource "aws_iam_role_policy" "role_sessions" {
  for_each = local.functions_with.role_sessions

  name   = "role-sessions"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.role_sessions[0].json
}

# webhook_secrets: read the webhook secrets named by ARN, nothing else.

data "aws_iam_policy_document" "webhook_secrets" {
  count = length(local.webhook_secret_arns) == 0 ? 0 : 1

  statement {
    sid       = "ReadWebhookSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.webhook_secret_arns
  }
}

resource "aws_iam_role_policy" "webhook_secrets" {
  for_each = length(local.webhook_secret_arns) == 0 ? {} : local.functions_with.webhook_secrets

  name   = "webhook-secrets"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.webhook_secrets[0].json
}

# Scheduler role: EventBridge Scheduler, for rekey's schedule group only,
# may invoke rekey-sweep and nothing else. Scheduler names the group, not
# the schedule, as the source.

data "aws_iam_policy_document" "scheduler_trust" {
  statement {
    sid     = "SchedulerAssumesRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_scheduler_schedule_group.this.arn]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name                 = "${var.name_prefix}-scheduler"
  description          = "Lets EventBridge Scheduler wake ${local.functions.sweep.name}"
  assume_role_policy   = data.aws_iam_policy_document.scheduler_trust.json
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

data "aws_iam_policy_document" "scheduler_invoke" {
  statement {
    sid       = "InvokeSweep"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this["sweep"].arn]
  }
}

resource "aws_iam_role_policy" "scheduler_invoke" {
  name   = "invoke-sweep"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler_invoke.json
}
