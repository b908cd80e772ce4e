/* SPDX-License-Identifier: MIT */
#pragma once

#include "cf-depends.h"
#include "cf-task.h"

G_BEGIN_DECLS

/* cf_depends_check on a project's queue on disk (the dependencies' places,
 * the depends_on of the queued ones, a failed one's recorded reason).
 * Blocking: for a worker thread. */
CfDependsVerdict cf_task_depends_check (const char *project,
                                        const CfTask *task,
                                        char **out_reason);

G_END_DECLS
