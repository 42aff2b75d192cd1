/*
 * mlp.c -- networks: the description check, the workspace layout, and the
 * float and double instances of the forward/backward/epoch code in
 * mlp_impl.h.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#endif

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#if defined(_WIN32)
#include <windows.h>
#endif

#include "metrics.h"
#include "nncore.h"
#include "runtime.h"

#define NC_ALIGN 64
/* Row gathers of at least this many bytes run on all threads (a batch of 128
 * rows of 784 floats is 401 KB). */
#define NC_GATHER_PARALLEL_BYTES (128u * 1024u)
/* nc_all_finite on all threads from this many bytes on. */
#define NC_FINITE_PARALLEL_BYTES (4.0 * 1024.0 * 1024.0)
/* Columns per block of the batch normalization kernels (their per-column
 * factors and sums live on the stack). */
#define NC_BN_BLOCK 64

/* Seconds on a monotonic clock, for the progress hook's interval. */
static double nc_seconds(void)
{
#if defined(_WIN32)
    LARGE_INTEGER count, frequency;
    QueryPerformanceCounter(&count);
    QueryPerformanceFrequency(&frequency);
    return (double)count.QuadPart / (double)frequency.QuadPart;
#else
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
#endif
}

/* Adds the seconds since *mark to *sum and moves the mark to now. */
static void nc_profile_add(double *sum, double *mark)
{
    const double now = nc_seconds();
    *sum += now - *mark;
    *mark = now;
}

/* splitmix64's finalizer (Steele, Lea & Flood 2014): a bijective 64-bit mix,
 * good enough to turn (seed, step, layer, element) into dropout coin flips. */
static uint64_t nc_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* splitmix64 proper: the state advances by the golden gamma. */
static uint64_t nc_next64(uint64_t *state)
{
    const uint64_t r = nc_mix64(*state);
    *state += 0x9e3779b97f4a7c15u;
    return r;
}

/* A uniform integer in [0, range), range >= 1, from the generator state *x.
 * Below 2^32 one 32 x 32-bit product and, rarely, a rejection (Lemire);
 * above, rejection and a modulo. */
static uint64_t nc_bounded(uint64_t *x, uint64_t range)
{
    if (range <= 0xffffffffu) {
        uint64_t product = (nc_next64(x) >> 32) * range;
        if ((uint32_t)product < range) {
            const uint32_t threshold = (uint32_t)(-(uint32_t)range % (uint32_t)range);
            while ((uint32_t)product < threshold)
                product = (nc_next64(x) >> 32) * range;
        }
        return product >> 32;
    }
    const uint64_t threshold = -range % range; /* 2^64 mod range */
    uint64_t r = nc_next64(x);
    while (r < threshold)
        r = nc_next64(x);
    return r % range;
}

void nc_permutation(size_t n, uint64_t seed, uint64_t stream, size_t *order)
{
    uint64_t x = nc_mix64(nc_mix64(seed) ^ stream);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n; i > 1; i--) { /* swap the last of i with one of them */
        const size_t j = (size_t)nc_bounded(&x, (uint64_t)i);
        const size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

static size_t nc_round_up(size_t bytes)
{
    return (bytes + NC_ALIGN - 1) / NC_ALIGN * NC_ALIGN;
}

/* The next aligned block of `bytes` from the workspace cursor. */
static void *nc_take(char **cursor, size_t bytes)
{
    void *block = *cursor;
    *cursor += nc_round_up(bytes);
    return block;
}

static size_t nc_network_widest(const nc_network *net)
{
    size_t widest = net->layers[0].n_in;
    for (size_t l = 0; l < net->n_layers; l++)
        widest = net->layers[l].n_out > widest ? net->layers[l].n_out : widest;
    return widest;
}

/* Whether loss and gradient are taken from the logits of the last layer. */
static int nc_network_from_logits(const nc_network *net)
{
    const nc_layer *last = &net->layers[net->n_layers - 1];
    if (last->kind != NC_LAYER_DENSE && last->kind != NC_LAYER_ACTIVATION)
        return 0;
    if (last->activation == NC_ACT_SIGMOID)
        return net->loss == NC_LOSS_BINARY_CROSSENTROPY;
    if (last->activation == NC_ACT_SOFTMAX)
        return net->loss == NC_LOSS_CATEGORICAL_CROSSENTROPY ||
               net->loss == NC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    return 0;
}

int nc_network_uses_logits(const nc_network *net)
{
    return nc_network_check(net) == NC_OK && nc_network_from_logits(net);
}

/* Values of a layer's statistics block in the workspace: a batch
 * normalization layer's batch mean and variance. */
static size_t nc_network_stats_count(const nc_layer *layer)
{
    return layer->kind == NC_LAYER_BATCH_NORM ? 2 * layer->n_out : 0;
}

/* offset + count <= total, without overflow */
static int nc_fits(size_t offset, size_t count, size_t total)
{
    return offset <= total && count <= total - offset;
}

nc_status nc_network_check(const nc_network *net)
{
    if (!net || !net->layers || net->n_layers == 0 || net->n_layers > NC_MAX_LAYERS ||
        (unsigned)net->loss >= NC_LOSS_COUNT || (unsigned)net->scaling > NC_SCALING_SKLEARN)
        return NC_ERR_INVALID_ARGUMENT;
    for (size_t l = 0; l < net->n_layers; l++) {
        const nc_layer *layer = &net->layers[l];
        if (layer->n_in == 0 || layer->n_out == 0)
            return NC_ERR_INVALID_ARGUMENT;
        if (l > 0 && layer->n_in != net->layers[l - 1].n_out)
            return NC_ERR_INVALID_ARGUMENT;
        switch (layer->kind) {
        case NC_LAYER_DENSE:
            if ((unsigned)layer->activation >= NC_ACT_COUNT ||
                (unsigned)layer->constraint > NC_CONSTRAINT_MAX_NORM)
                return NC_ERR_INVALID_ARGUMENT;
            if (layer->n_in > SIZE_MAX / layer->n_out ||
                !nc_fits(layer->weight_offset, layer->n_in * layer->n_out, net->n_params) ||
                (layer->use_bias && !nc_fits(layer->bias_offset, layer->n_out, net->n_params)))
                return NC_ERR_INVALID_ARGUMENT;
            if (!(layer->l2 >= 0) || !isfinite(layer->l2) ||
                (layer->constraint == NC_CONSTRAINT_MAX_NORM && !(layer->max_norm >= 0)))
                return NC_ERR_INVALID_ARGUMENT;
            break;
        case NC_LAYER_ACTIVATION:
            if ((unsigned)layer->activation >= NC_ACT_COUNT || layer->n_in != layer->n_out)
                return NC_ERR_INVALID_ARGUMENT;
            break;
        case NC_LAYER_DROPOUT:
            if (layer->n_in != layer->n_out ||
                !(layer->dropout_rate >= 0 && layer->dropout_rate < 1))
                return NC_ERR_INVALID_ARGUMENT;
            break;
        case NC_LAYER_BATCH_NORM:
            if (layer->n_in != layer->n_out || !(layer->momentum >= 0 && layer->momentum <= 1) ||
                !(layer->epsilon >= 0) || !isfinite(layer->epsilon) ||
                !nc_fits(layer->moving_mean_offset, layer->n_out, net->n_params) ||
                !nc_fits(layer->moving_variance_offset, layer->n_out, net->n_params) ||
                (layer->scale && !nc_fits(layer->gamma_offset, layer->n_out, net->n_params)) ||
                (layer->center && !nc_fits(layer->beta_offset, layer->n_out, net->n_params)))
                return NC_ERR_INVALID_ARGUMENT;
            break;
        case NC_LAYER_FLATTEN:
            if (layer->n_in != layer->n_out)
                return NC_ERR_INVALID_ARGUMENT;
            break;
        default: return NC_ERR_INVALID_ARGUMENT;
        }
    }
    return NC_OK;
}

/* a * b + c in size_t, or SIZE_MAX on overflow */
static size_t nc_add_product(size_t c, size_t a, size_t b)
{
    if (c == SIZE_MAX || (a && b > SIZE_MAX / a))
        return SIZE_MAX;
    size_t ab = a * b;
    return ab > SIZE_MAX - c - 2 * NC_ALIGN ? SIZE_MAX : c + nc_round_up(ab);
}

size_t nc_network_workspace_size(const nc_network *net, size_t batch_size, size_t elem_size)
{
    if (nc_network_check(net) != NC_OK || batch_size == 0)
        return SIZE_MAX;
    size_t row = batch_size * elem_size;
    if (elem_size && row / elem_size != batch_size)
        return SIZE_MAX;
    /* the same blocks, in the same order, as carve() in mlp_impl.h */
    size_t total = nc_add_product(0, row, net->layers[0].n_in);
    total = nc_add_product(total, row, net->layers[net->n_layers - 1].n_out);
    total = nc_add_product(total, row, 1);
    for (size_t l = 0; l < net->n_layers && total != SIZE_MAX; l++) {
        for (int copies = 0; copies < 3; copies++)
            total = nc_add_product(total, row, net->layers[l].n_out);
        total = nc_add_product(total, elem_size, nc_network_stats_count(&net->layers[l]));
    }
    for (int copies = 0; copies < 2 && total != SIZE_MAX; copies++)
        total = nc_add_product(total, row, nc_network_widest(net));
    return total;
}

#define T float
#define NET(name) name##_f32
#define K(name) name##_f32
#include "mlp_impl.h"
#undef T
#undef NET
#undef K

#define T double
#define NET(name) name##_f64
#define K(name) name##_f64
#include "mlp_impl.h"
