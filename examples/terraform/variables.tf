variable "db_password" {
  description = "Password of the payments database"
  type        = string
  sensitive   = true
}

variable "environment" {
  type    = string
  default = "prod"
}
