# terraform-local: a workspace that is just a directory on the provisioner's host. It needs no provider
# downloads (only the built-in terraform_data resource and local-exec), so it works offline.
#
# How the lifecycle maps onto terraform without the coder provider: the provisioner passes the build's
# transition in CODER_WORKSPACE_TRANSITION (start | stop | destroy). The resource is replaced on every
# build (uuid() is new on every plan; a timestamp would repeat for two builds in one second), so its
# destroy-time and its create-time provisioner both run and decide from the transition what to do:
#   start  → keep the directory (a restart keeps the files) and (re)write the workspace file
#   stop   → remove the directory
#   delete → remove the directory (terraform destroy)

terraform {
  required_version = ">= 1.4.0" # terraform_data
}

variable "base_dir" {
  description = "Directory under which each workspace gets its own directory, named by workspace id."
  type        = string
  default     = "/tmp/prewarm-workspaces"
}

resource "terraform_data" "workspace" {
  input = {
    base_dir = var.base_dir
  }

  triggers_replace = uuid()

  provisioner "local-exec" {
    command = <<-EOT
      set -eu
      if [ "$${CODER_WORKSPACE_TRANSITION:-start}" = "start" ]; then
        dir="$BASE_DIR/$${CODER_WORKSPACE_ID:-local}"
        mkdir -p "$dir"
        {
          echo "workspace: $${CODER_WORKSPACE_NAME:-local}"
          echo "owner: $${CODER_WORKSPACE_OWNER:-}"
          echo "template: $${CODER_WORKSPACE_TEMPLATE_NAME:-} $${CODER_WORKSPACE_TEMPLATE_VERSION:-}"
          echo "prebuild: $${CODER_WORKSPACE_IS_PREBUILD:-false}"
        } > "$dir/WORKSPACE"
        echo "workspace directory ready: $dir"
      fi
    EOT
    environment = {
      BASE_DIR = self.input.base_dir
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = <<-EOT
      set -eu
      if [ "$${CODER_WORKSPACE_TRANSITION:-destroy}" != "start" ]; then
        dir="$BASE_DIR/$${CODER_WORKSPACE_ID:-local}"
        rm -rf "$dir"
        echo "workspace directory removed: $dir"
      fi
    EOT
    environment = {
      BASE_DIR = self.input.base_dir
    }
  }
}
