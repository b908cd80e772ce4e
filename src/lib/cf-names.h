/* SPDX-License-Identifier: MIT */
#pragma once

/* Fixed D-Bus contract names (ARCHITECTURE.md 4.4). */
#define CF_BUS_NAME "org.claudefailover"
#define CF_OBJECT_PATH "/org/claudefailover/Manager"
#define CF_INTERFACE "org.claudefailover.Manager"

#define CF_ERROR_PREFIX "org.claudefailover.Error."
#define CF_ERROR_NO_SUCH_ACCOUNT CF_ERROR_PREFIX "NoSuchAccount"
#define CF_ERROR_NO_SUCH_TASK CF_ERROR_PREFIX "NoSuchTask"
#define CF_ERROR_NO_SUCH_SESSION CF_ERROR_PREFIX "NoSuchSession"
#define CF_ERROR_NO_SUCH_PROJECT CF_ERROR_PREFIX "NoSuchProject"
#define CF_ERROR_INVALID_ARGUMENT CF_ERROR_PREFIX "InvalidArgument"
#define CF_ERROR_SWAP_IN_PROGRESS CF_ERROR_PREFIX "SwapInProgress"
#define CF_ERROR_PARTIAL_SWAP CF_ERROR_PREFIX "PartialSwap"
#define CF_ERROR_ACCOUNT_UNUSABLE CF_ERROR_PREFIX "AccountUnusable"

#define CF_POLKIT_SWITCH_ACCOUNT "org.claudefailover.switch-account"
#define CF_POLKIT_CONTROL "org.claudefailover.control"
#define CF_POLKIT_MANAGE_TASKS "org.claudefailover.manage-tasks"
