# coder-local: a Coder template (the coder/coder provider plus terraform_data and local-exec, nothing else)
# whose workspace is a directory and a background agent process on the provisioner's host.
#
#   terraform_data.home   the directory <base_dir>/<workspace id>; made on the first start, kept across
#                         stop/start, removed on delete
#   terraform_data.agent  the "machine": runs coder_agent.main.init_script in the background with
#                         CODER_AGENT_TOKEN set, exactly as a VM's user data would; exists while
#                         start_count = 1, so a stop (start_count = 0) destroys it, which stops the agent
#
# Prebuild-friendly: the agent's resource names nothing that changes on a claim except the owner, and that
# under lifecycle { ignore_changes }; so a claim hands the running agent over (it re-initialises for the
# new owner) instead of replacing it. `replace_on_claim = true` adds a resource that deliberately gets this
# wrong, to see what a replacement on claim looks like (build log warning, claim rehearsal).

terraform {
  required_version = ">= 1.4.0" # terraform_data
  required_providers {
    coder = {
      source  = "coder/coder"
      version = ">= 2.4.0" # coder_workspace_preset prebuilds
    }
  }
}

variable "base_dir" {
  description = "Directory under which each workspace gets its own directory, named by workspace id."
  type        = string
  default     = "/tmp/prewarm-coder-local"
}

variable "replace_on_claim" {
  description = "Add a resource whose replace-forcing attribute is the owner's name (a claim replaces it)."
  type        = bool
  default     = false
}

data "coder_provisioner" "me" {}
data "coder_workspace" "me" {}
data "coder_workspace_owner" "me" {}

data "coder_parameter" "project" {
  name         = "project"
  display_name = "Project"
  description  = "Written to PROJECT in the workspace directory by the agent's startup script."
  type         = "string"
  default      = "demo"
  mutable      = true
}

data "coder_parameter" "size" {
  name         = "size"
  display_name = "Size"
  description  = "How big the workspace pretends to be."
  type         = "string"
  default      = "small"
  mutable      = true
  option {
    name  = "Small"
    value = "small"
  }
  option {
    name  = "Large"
    value = "large"
  }
}

data "coder_workspace_preset" "warm" {
  name        = "warm"
  description = "A small demo workspace, kept warm: two prebuilt workspaces wait to be claimed."
  default     = true
  parameters = {
    (data.coder_parameter.project.name) = "demo"
    (data.coder_parameter.size.name)    = "small"
  }
  prebuilds {
    instances = 2
    expiration_policy {
      ttl = 3600 # a prebuild unclaimed for an hour is replaced by a fresh one
    }
  }
}

data "coder_workspace_preset" "large" {
  name        = "large"
  description = "A large workspace, built on demand (no prebuilds)."
  parameters = {
    (data.coder_parameter.project.name) = "demo"
    (data.coder_parameter.size.name)    = "large"
  }
}

locals {
  dir = "${var.base_dir}/${data.coder_workspace.me.id}"
}

resource "coder_agent" "main" {
  os   = "linux"
  arch = data.coder_provisioner.me.arch
  dir  = local.dir
  # What terraform saw for this build. An owner-dependent agent env is what Coder's own templates do
  # (GIT_AUTHOR_NAME); it changes the coder_agent on a claim, which costs nothing: the agent process keeps
  # its token and re-initialises with the new manifest.
  env = {
    TERRAFORM_OWNER            = data.coder_workspace_owner.me.name
    TERRAFORM_IS_PREBUILD      = tostring(data.coder_workspace.me.is_prebuild)
    TERRAFORM_TEMPLATE_VERSION = data.coder_workspace.me.template_version
  }
  # Runs on every (re)initialisation, so after a claim it names the new owner: the agent's environment
  # carries the owner it runs for (CODER_WORKSPACE_OWNER_NAME). STARTS gets a line per run, with the agent's
  # pid: a claim or an upgrade re-initialises the same process.
  startup_script = <<-EOT
    printf '%s\n' "${data.coder_parameter.project.value}" > PROJECT
    printf '%s\n' "$CODER_WORKSPACE_OWNER_NAME" > OWNER
    printf 'owner=%s is_prebuild=%s version=%s\n' "$TERRAFORM_OWNER" "$TERRAFORM_IS_PREBUILD" "$TERRAFORM_TEMPLATE_VERSION" > TERRAFORM
    printf 'owner=%s agent_pid=%s\n' "$CODER_WORKSPACE_OWNER_NAME" "$PPID" >> STARTS
  EOT
  metadata {
    key          = "owner"
    display_name = "Owner (as the agent sees it)"
    script       = "cat OWNER 2>/dev/null || echo none"
    interval     = 10
    timeout      = 1
  }
}

resource "terraform_data" "home" {
  input = {
    dir = local.dir
  }

  provisioner "local-exec" {
    command = "mkdir -p \"$DIR\""
    environment = {
      DIR = self.input.dir
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "rm -rf \"$DIR\""
    environment = {
      DIR = self.input.dir
    }
  }
}

resource "terraform_data" "agent" {
  count = data.coder_workspace.me.start_count

  input = {
    dir      = terraform_data.home.output.dir
    pid_file = "${terraform_data.home.output.dir}/agent.pid"
    tmp_dir  = "${terraform_data.home.output.dir}/.tmp"
    agent_id = coder_agent.main.id
  }

  # The owner is part of this "machine's" identity (think: a container named after its owner) ...
  triggers_replace = {
    owner = data.coder_workspace_owner.me.name
  }
  lifecycle {
    # ... but a claim changes the owner, and replacing the machine then would throw the prebuild away.
    ignore_changes = [triggers_replace]
  }

  # Start the agent in the background, detached from terraform (its own session, no inherited output), and
  # record its pid. init_script downloads the agent from the server and execs it, so the pid stays the same.
  # TMPDIR inside the workspace directory: the downloaded agent is removed when the agent stops.
  provisioner "local-exec" {
    command = <<-EOT
      set -eu
      mkdir -p "$DIR" "$TMPDIR"
      setsid sh -c 'echo $$ > "$0"; exec sh -c "$INIT_SCRIPT"' "$PID_FILE" </dev/null >"$DIR/agent.log" 2>&1 &
      for _ in $(seq 1 50); do [ -s "$PID_FILE" ] && break; sleep 0.1; done
      echo "agent started: pid $(cat "$PID_FILE"), log $DIR/agent.log"
    EOT
    environment = {
      DIR               = self.input.dir
      TMPDIR            = self.input.tmp_dir
      PID_FILE          = self.input.pid_file
      INIT_SCRIPT       = coder_agent.main.init_script
      CODER_AGENT_TOKEN = coder_agent.main.token
    }
  }

  # Stop it: SIGTERM lets it run its stop scripts and say goodbye to the server; SIGKILL after 30 s.
  provisioner "local-exec" {
    when    = destroy
    command = <<-EOT
      set -u
      if [ -s "$PID_FILE" ]; then
        pid=$(cat "$PID_FILE")
        if kill -TERM "$pid" 2>/dev/null; then
          for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
          kill -KILL "$pid" 2>/dev/null || true
          echo "agent stopped: pid $pid"
        fi
      fi
      rm -rf "$PID_FILE" "$TMP_DIR"
    EOT
    environment = {
      PID_FILE = self.input.pid_file
      TMP_DIR  = self.input.tmp_dir
    }
  }
}

# What terraform saw for this build, shown on the workspace's resource: the claim re-applies as the new owner.
resource "coder_metadata" "agent" {
  count       = data.coder_workspace.me.start_count
  resource_id = terraform_data.agent[0].id
  item {
    key   = "terraform_owner"
    value = data.coder_workspace_owner.me.name
  }
  item {
    key   = "is_prebuild"
    value = tostring(data.coder_workspace.me.is_prebuild)
  }
  item {
    key   = "template_version"
    value = data.coder_workspace.me.template_version
  }
}

# The mistake coder-local avoids, on purpose: an owner-named resource without ignore_changes. A claim
# destroys and re-creates it (see the claim build's log, or `prewarm presets list coder-local`).
resource "terraform_data" "owner_badge" {
  count            = var.replace_on_claim ? data.coder_workspace.me.start_count : 0
  triggers_replace = data.coder_workspace_owner.me.name

  provisioner "local-exec" {
    command = "printf '%s\\n' \"$OWNER\" > \"$DIR/BADGE\""
    environment = {
      OWNER = data.coder_workspace_owner.me.name
      DIR   = terraform_data.home.output.dir
    }
  }
}
