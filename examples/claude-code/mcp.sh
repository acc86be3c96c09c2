#!/bin/sh
# hitl as an MCP server for Claude Code, and as the permission prompt of headless runs.
# HITL_API_KEY is an agent key: hitl key create --name claude-code
set -eu

# Add the server (Streamable HTTP) with the key in the Authorization header.
claude mcp add --transport http hitl http://127.0.0.1:8080/mcp \
  --header "Authorization: Bearer $HITL_API_KEY"

# Headless: every tool call not already allowed becomes a pause in hitl, and runs only
# when a reviewer approves it (a rejection is a deny with the reviewer's comment).
claude -p "clean up the build directory" --permission-prompt-tool mcp__hitl__permission_prompt
