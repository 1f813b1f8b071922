[
  {
    "name": "reports",
    "image": "${image}",
    "environment": [
      {"name": "SMTP_PASSWORD", "value": "${smtp_password}"},
      {"name": "DB_PASSWORD", "value": "${db_password}"},
      {"name": "REPORT_BUCKET", "value": "reports-archive"}
    ]
  }
]
