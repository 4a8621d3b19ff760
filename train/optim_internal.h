/* optim_internal.h — the optimizer's state, shared with checkpoint.c; not
 * installed. */
#ifndef MT_OPTIM_INTERNAL_H
#define MT_OPTIM_INTERNAL_H

#include "minitensor/optim.h"
#include "tape_internal.h"

typedef struct param_state {
    mt_value *param;
    mt_tensor *m;    /* Adam exp_avg, or SGD momentum buffer (NULL: none) */
    mt_tensor *v;    /* Adam exp_avg_sq */
    int64_t steps;   /* this parameter's updates (torch's state['step']) */
    char m_name[MT_NAME_MAX + 24], v_name[MT_NAME_MAX + 24];
} param_state;

struct mt_optimizer {
    mt_optimizer_options o;
    int64_t steps;
    int n;
    param_state *p;
};

#endif
