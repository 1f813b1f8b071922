# Payments service: four ways to write container_definitions, all leaking secrets.

locals {
  common_env = {
    LOG_LEVEL      = "info"
    SENTRY_API_KEY = "b2f1c9a7e4d84c3f9a0e6d5c4b3a2f1e" # literal key in code
  }
}

resource "random_password" "jwt" {
  length = 48
}

resource "aws_ecs_task_definition" "payments" {
  family                   = "payments"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 512
  memory                   = 1024

  container_definitions = jsonencode([
    {
      name  = "payments"
      image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/payments:3.2.0"
      environment = concat([
        { name = "ENVIRONMENT", value = var.environment },
        { name = "DB_PASSWORD", value = var.db_password },
        { name = "JWT_SIGNING_KEY", value = random_password.jwt.result },
        { name = "DB_PASSWORD_FILE", value = "/run/secrets/db" },
        { name = "STRIPE_SECRET_KEY", value = "sk_live_4eC34eC34eC34eC34eC34eC3" },
      ], [for k, v in local.common_env : { name = k, value = v }])
    }
  ])
}

resource "aws_ecs_task_definition" "ledger" {
  family                = "ledger"
  container_definitions = <<-EOF
    [
      {
        "name": "ledger",
        "image": "ledger:1.4",
        "environment": [
          {"name": "DATABASE_URL", "value": "postgres://ledger:${var.db_password}@db:5432/ledger"},
          {"name": "ADMIN_PASSWORD", "value": "letmein-ledger-2024"},
          {"name": "PORT", "value": "8080"}
        ]
      }
    ]
  EOF
}

resource "aws_ecs_task_definition" "notifier" {
  family                = "notifier"
  container_definitions = file("${path.module}/containers/notifier.json")
}

resource "aws_ecs_task_definition" "reports" {
  family = "reports"
  container_definitions = templatefile("${path.module}/templates/reports.json.tpl", {
    smtp_password = "Winter2024!smtp"
    image         = "reports:0.9"
    db_password   = var.db_password
  })
}
