terraform {
  # optional() object attributes with defaults need 1.3; tested with 1.11.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Tested with 5.100.0. Provider 6.28 adds invoked_via_function_url to
      # aws_lambda_permission; see the TODO in terraform/README.md.
      version = ">= 5.100.0, < 6.0.0"
    }
  }
}
