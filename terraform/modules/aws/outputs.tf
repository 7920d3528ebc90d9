output "function_arns" {
  description = "ARN of each deployed function, by short name (rotate, sweep, anomaly, usage). Set function_arns.rotate as a secret's rotation function."
  value       = { for key, function in aws_lambda_function.this : key => function.arn }
}

output "function_names" {
  description = "Name of each deployed function, by short name (rotate, sweep, anomaly, usage)."
  value       = { for key, function in aws_lambda_function.this : key => function.function_name }
}

output "function_role_arns" {
  description = "ARN of each function's execution role, by short name."
  value       = { for key, role in aws_iam_role.function : key => role.arn }
}

output "anomaly_function_url" {
  description = "HTTPS URL of rekey-anomaly's webhook endpoint (GitHub secret scanning and rekey-signed webhooks); null without rekey-anomaly."
  value       = one(aws_lambda_function_url.this[*].function_url)
}

output "github_webhook_url" {
  description = "The URL to give GitHub's secret scanning webhook (rekey-anomaly's /webhooks/github); null without rekey-anomaly."
  value       = one([for function_url in aws_lambda_function_url.this : "${trimsuffix(function_url.function_url, "/")}/webhooks/github"])
}

output "signed_webhook_url" {
  description = "The URL your own detectors post signed findings to (rekey-anomaly's /webhooks/signed); null without rekey-anomaly."
  value       = one([for function_url in aws_lambda_function_url.this : "${trimsuffix(function_url.function_url, "/")}/webhooks/signed"])
}

output "anomaly_function_url_invoke_permission_command" {
  description = "The AWS CLI command that grants lambda:InvokeFunction through the function URL only, which new function URLs also need and provider 5.x cannot express; run it once after the first apply. Null without rekey-anomaly."
  value = one([
    for function_url in aws_lambda_function_url.this : join(" ", [
      "aws lambda add-permission",
      "--region ${local.region}",
      "--function-name ${function_url.function_name}",
      "--statement-id AllowInvokeViaFunctionUrl",
      "--action lambda:InvokeFunction",
      "--principal '*'",
      "--invoked-via-function-url",
    ])
  ])
}

output "ledger_table_name" {
  description = "Name of the DynamoDB ledger table, for [ledger] table in rekey.toml."
  value       = aws_dynamodb_table.this.name
}

output "ledger_table_arn" {
  description = "ARN of the DynamoDB ledger table."
  value       = aws_dynamodb_table.this.arn
}

output "event_bus_name" {
  description = "Name of the EventBridge bus rekey publishes Rotation Completed, Rotation Failed and Credential Revoked to (source rekey)."
  value       = aws_cloudwatch_event_bus.this.name
}

output "event_bus_arn" {
  description = "ARN of the EventBridge bus rekey publishes to; attach your own rules to it."
  value       = aws_cloudwatch_event_bus.this.arn
}

output "sweep_schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule that wakes rekey-sweep."
  value       = aws_scheduler_schedule.this.arn
}
