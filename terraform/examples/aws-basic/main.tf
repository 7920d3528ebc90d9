# rekey in one account and region, from the zips `cargo lambda build`
# writes in the workspace's target/ directory. See README.md next to this
# file for the steps; the ARNs below are placeholders to replace.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 6.0.0"
    }
  }
}

provider "aws" {
  # AWS Health delivers global events, credential exposure among them, in
  # us-east-1.
  region = "us-east-1"
}

locals {
  lambda_dir = "${path.module}/../../../target/lambda"
}

module "rekey" {
  source = "../../modules/aws"

  # Set anomaly or usage to null to deploy without that function.
  function_zips = {
    rotate  = "${local.lambda_dir}/rekey-rotate/bootstrap.zip"
    sweep   = "${local.lambda_dir}/rekey-sweep/bootstrap.zip"
    anomaly = "${local.lambda_dir}/rekey-anomaly/bootstrap.zip"
    usage   = "${local.lambda_dir}/rekey-usage/bootstrap.zip"
  }

  ledger_table_name = "rekey-ledger"
  event_bus_name    = "rekey"
  sweep_rate        = "5 minutes"
  log_level         = "info"

  # Only these users' access keys and these roles' sessions are rekey's.
  managed_user_path = "/service-accounts/"
  managed_role_path = "/workloads/"

  github_webhook_secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rekey/github-webhook-AbCdEf"
  signed_webhook_secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rekey/signed-webhook-GhIjKl"
  github_token_secret_arn   = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rekey/github-token-MnOpQr"

  tags = {
    service = "rekey"
  }
}

output "github_webhook_url" {
  description = "Point GitHub's secret scanning webhook here."
  value       = module.rekey.github_webhook_url
}

output "webhook_url_invoke_permission_command" {
  description = "Run once after the first apply (see README.md)."
  value       = module.rekey.anomaly_function_url_invoke_permission_command
}

output "rotation_function_arn" {
  description = "Set as the rotation function of Secrets Manager secrets that rotate on Secrets Manager's schedule."
  value       = module.rekey.function_arns["rotate"]
}

output "ledger_table_name" {
  description = "The [ledger] table of rekey.toml."
  value       = module.rekey.ledger_table_name
}
