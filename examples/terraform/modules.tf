# The popular container-definition modules take environment lists too.

module "api_container" {
  source  = "cloudposse/ecs-container-definition/aws"
  version = "0.61.1"

  container_name  = "api"
  container_image = "api:1.0"
  environment = [
    { name = "GITHUB_TOKEN", value = "ghp_aB3aB3aB3aB3aB3aB3aB3aB3aB3aB3aB3aB3" },
  ]
  map_environment = {
    MAILGUN_API_KEY = "key-3ax63ax63ax63ax63ax63ax63ax63ax6"
    FEATURE_FLAGS   = "checkout,search"
  }
}

module "ecs_service" {
  source  = "terraform-aws-modules/ecs/aws//modules/service"
  version = "5.11.0"

  name = "search"
  container_definitions = {
    search = {
      image = "search:5.0"
      environment = [
        { name = "ELASTIC_PASSWORD", value = "changeme-elastic" },
        { name = "ELASTIC_HOST", value = "es.internal" },
      ]
    }
  }
}

module "sidecar" {
  source = "terraform-aws-modules/ecs/aws//modules/container-definition"

  name  = "otel"
  image = "otel/opentelemetry-collector:0.100.0"
  environment = [
    { name = "OTEL_EXPORTER_OTLP_HEADERS", value = "x-api-key=abc" },
    { name = "DD_API_KEY", value = "0123456789abcdef0123456789abcdef" },
  ]
}
