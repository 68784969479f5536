/*
 * claimflow_speedups: the hot loop of claimflow's 835 parser and the EOB builder, in C.
 *
 * Why: the pure-Python parser (parsers/x835_005010x221a1.py) spends ~0.55 us per segment on
 * dispatch and ~7 us per claim building EOBs; 835 -> EOB at 40 MB/s on one core needs a few times
 * less. This module does exactly what the Python hot loop does for the segments of the claim
 * payment loops (2100/2110: CLP, CAS, NM1, DTM, REF, AMT, SVC, LQ) on well-formed input, and
 * nothing else.
 *
 * Contract ("happy path only"): scan835() never reports an input error. Whenever a segment is
 * anything but the plain, valid case (an unknown or rare segment, a missing element, an amount or
 * date that does not convert, a non-Latin-1 string, a first CLP that must emit the header ...)
 * it stops *before touching any state for that segment* and returns its index; the Python loop
 * then handles that one segment itself (raising the error, word for word, where there is one) and
 * calls back in. So the Python parser remains the single source of truth for errors, and the
 * records are identical with or without this module: tests/unit/parsers/test_native.py compares
 * both paths record for record on every fixture, the conformance files and generated files.
 *
 * State shared with Python (one list, read at entry and written back at exit):
 *   st = [claim, line, lines, lcas, ccas, segno, claim_segno,
 *         n_claims, n_lines, bad_claims, bad_lines, t_charge, t_paid, t_pr, out]
 *   ctx = (build, file_sha256, isa13, gs06, st02, lx)
 * Finished ClaimPayment records are appended to `out` (Python yields them in order).
 *
 * Value limits (parsers/limits835.py, handed over by configure_835): a string element longer than its
 * maximum, an amount beyond NUMERIC(14,2) or with a non-zero third decimal, a quantity beyond
 * NUMERIC(15,3) — the segment goes to Python, which raises the error. The cached values carry the
 * strictest kind they passed, so a cache hit never skips a check.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <string.h>

#define MAXEL 64  /* segments with more elements go to Python */
#define MAXCOMP 16

typedef struct {
    Py_ssize_t off, len;
} Span;

/* ---- configuration (set once from Python) ------------------------------------------------------- */

static PyObject *DecimalType, *ZERO, *CLAIM_NM1, *CLAIM_TAIL, *LINE_TAIL;
static PyTypeObject *ClaimPaymentT, *ServiceLineT, *AdjustmentT, *PartyT;
static PyTypeObject *EOBT, *EOBLineT;
static Py_ssize_t CLAIM_HEAD, LINE_HEAD;
/* claim list positions */
static Py_ssize_t C_OTHER_PARTIES, C_FROM, C_TO, C_RECEIVED, C_EXPIRES, C_DATES, C_REFS, C_ORIGREF, C_AMTS,
    C_ADJ, C_LINES, C_CHARGE, C_PAID, C_PR;
/* maximum element lengths (parsers.limits835) and the money / quantity sizes */
static Py_ssize_t MX_CLP01, MX_CLP02, MX_CLP06, MX_CLP07, MX_CLP08, MX_CLP09, MX_CLP11, MX_REF01, MX_REF02,
    MX_DTM01, MX_AMT01, MX_CAS01, MX_CAS02, MX_NM101, MX_NM102, MX_NM103, MX_NM104, MX_NM105, MX_NM107,
    MX_NM108, MX_NM109, MX_SVC01_1, MX_SVC01_2, MX_SVC01_MOD, MX_SVC01_7, MX_SVC04, MX_REVENUE, MX_LQ01,
    MX_LQ02, MONEY_INT, MONEY_DEC, QTY_INT, QTY_DEC;
/* line list positions */
static Py_ssize_t L_DATE, L_FROM, L_TO, L_CTRL, L_ALLOWED, L_ADJ, L_RARC, L_NCPDP, L_REFS, L_AMTS,
    L_CHARGE, L_PAID;
/* ClaimPayment / Remittance record positions (EOB builder) */
static Py_ssize_t CP_PCN, CP_PAYER_CCN, CP_ORIGREF, CP_STATUS, CP_FILING, CP_FACILITY, CP_FREQ, CP_SFROM, CP_STO,
    CP_CHARGE, CP_PAID, CP_PR, CP_ADJ, CP_INPATIENT, CP_OUTPATIENT, CP_LINES;
static Py_ssize_t RM_PAYER_NAME, RM_PAYER_ID, RM_PAYEE_NAME, RM_PAYEE_ID, RM_TRACE, RM_METHOD, RM_HANDLING,
    RM_PAYDATE;
static PyObject *MONEY_MAX_O, *MONEY_MIN_O; /* Decimal 999999999999.99 and its negative */
static int configured_835 = 0, configured_eob = 0;
static PyObject *str_remark_codes, *str_22;

static int
get_index(PyObject *idx, const char *name, Py_ssize_t *out)
{
    PyObject *v = PyDict_GetItemString(idx, name);
    if (v == NULL) {
        PyErr_Format(PyExc_KeyError, "configure: index %s missing", name);
        return -1;
    }
    *out = PyLong_AsSsize_t(v);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static void
set_obj(PyObject **slot, PyObject *v)
{
    Py_XINCREF(v);
    Py_XSETREF(*slot, v);
}

static PyObject *
configure_835(PyObject *self, PyObject *args)
{
    PyObject *dec, *zero, *nm1, *ctail, *ltail, *idx, *cp, *sl, *adj, *party;
    if (!PyArg_ParseTuple(args, "OOO!O!O!O!OOOO", &dec, &zero, &PyDict_Type, &nm1, &PyList_Type, &ctail,
                          &PyList_Type, &ltail, &PyDict_Type, &idx, &cp, &sl, &adj, &party))
        return NULL;
    if (!PyType_Check(cp) || !PyType_Check(sl) || !PyType_Check(adj) || !PyType_Check(party)) {
        PyErr_SetString(PyExc_TypeError, "configure_835: record types expected");
        return NULL;
    }
    set_obj(&DecimalType, dec);
    set_obj(&ZERO, zero);
    set_obj(&CLAIM_NM1, nm1);
    set_obj(&CLAIM_TAIL, ctail);
    set_obj(&LINE_TAIL, ltail);
    set_obj((PyObject **)&ClaimPaymentT, cp);
    set_obj((PyObject **)&ServiceLineT, sl);
    set_obj((PyObject **)&AdjustmentT, adj);
    set_obj((PyObject **)&PartyT, party);
    if (get_index(idx, "claim_head", &CLAIM_HEAD) || get_index(idx, "line_head", &LINE_HEAD) ||
        get_index(idx, "other_parties", &C_OTHER_PARTIES) || get_index(idx, "statement_from", &C_FROM) ||
        get_index(idx, "statement_to", &C_TO) || get_index(idx, "received_date", &C_RECEIVED) ||
        get_index(idx, "coverage_expiration", &C_EXPIRES) || get_index(idx, "other_dates", &C_DATES) ||
        get_index(idx, "references", &C_REFS) || get_index(idx, "amounts", &C_AMTS) ||
        get_index(idx, "original_reference_number", &C_ORIGREF) ||
        get_index(idx, "adjustments", &C_ADJ) || get_index(idx, "lines", &C_LINES) ||
        get_index(idx, "charge", &C_CHARGE) || get_index(idx, "paid", &C_PAID) ||
        get_index(idx, "patient_responsibility", &C_PR) || get_index(idx, "l_service_date", &L_DATE) ||
        get_index(idx, "l_service_date_from", &L_FROM) || get_index(idx, "l_service_date_to", &L_TO) ||
        get_index(idx, "l_control_number", &L_CTRL) || get_index(idx, "l_allowed", &L_ALLOWED) ||
        get_index(idx, "l_adjustments", &L_ADJ) || get_index(idx, "l_remark_codes", &L_RARC) ||
        get_index(idx, "l_ncpdp_reject_codes", &L_NCPDP) || get_index(idx, "l_references", &L_REFS) ||
        get_index(idx, "l_amounts", &L_AMTS) || get_index(idx, "l_charge", &L_CHARGE) ||
        get_index(idx, "l_paid", &L_PAID))
        return NULL;
    if (get_index(idx, "CLP01_MAX", &MX_CLP01) || get_index(idx, "CLP02_MAX", &MX_CLP02) ||
        get_index(idx, "CLP06_MAX", &MX_CLP06) || get_index(idx, "CLP07_MAX", &MX_CLP07) ||
        get_index(idx, "CLP08_MAX", &MX_CLP08) || get_index(idx, "CLP09_MAX", &MX_CLP09) ||
        get_index(idx, "CLP11_MAX", &MX_CLP11) || get_index(idx, "REF01_MAX", &MX_REF01) ||
        get_index(idx, "REF02_MAX", &MX_REF02) || get_index(idx, "DTM01_MAX", &MX_DTM01) ||
        get_index(idx, "AMT01_MAX", &MX_AMT01) || get_index(idx, "CAS01_MAX", &MX_CAS01) ||
        get_index(idx, "CAS02_MAX", &MX_CAS02) || get_index(idx, "NM101_MAX", &MX_NM101) ||
        get_index(idx, "NM102_MAX", &MX_NM102) || get_index(idx, "NM103_MAX", &MX_NM103) ||
        get_index(idx, "NM104_MAX", &MX_NM104) || get_index(idx, "NM105_MAX", &MX_NM105) ||
        get_index(idx, "NM107_MAX", &MX_NM107) || get_index(idx, "NM108_MAX", &MX_NM108) ||
        get_index(idx, "NM109_MAX", &MX_NM109) || get_index(idx, "SVC01_1_MAX", &MX_SVC01_1) ||
        get_index(idx, "SVC01_2_MAX", &MX_SVC01_2) || get_index(idx, "SVC01_MODIFIER_MAX", &MX_SVC01_MOD) ||
        get_index(idx, "SVC01_7_MAX", &MX_SVC01_7) || get_index(idx, "SVC04_MAX", &MX_SVC04) ||
        get_index(idx, "REVENUE_CODE_MAX", &MX_REVENUE) || get_index(idx, "LQ01_MAX", &MX_LQ01) ||
        get_index(idx, "LQ02_MAX", &MX_LQ02) || get_index(idx, "MONEY_INTEGER_DIGITS", &MONEY_INT) ||
        get_index(idx, "MONEY_DECIMALS", &MONEY_DEC) || get_index(idx, "QUANTITY_INTEGER_DIGITS", &QTY_INT) ||
        get_index(idx, "QUANTITY_DECIMALS", &QTY_DEC))
        return NULL;
    PyObject *mmax = PyDict_GetItemString(idx, "money_max");
    if (mmax == NULL) {
        PyErr_SetString(PyExc_KeyError, "configure: money_max missing");
        return NULL;
    }
    PyObject *mmin = PyNumber_Negative(mmax);
    if (mmin == NULL)
        return NULL;
    set_obj(&MONEY_MAX_O, mmax);
    Py_XSETREF(MONEY_MIN_O, mmin);
    configured_835 = 1;
    Py_RETURN_NONE;
}

static PyObject *
configure_eob(PyObject *self, PyObject *args)
{
    PyObject *eob, *eobline, *zero, *idx;
    if (!PyArg_ParseTuple(args, "OOOO!", &eob, &eobline, &zero, &PyDict_Type, &idx))
        return NULL;
    if (!PyType_Check(eob) || !PyType_Check(eobline)) {
        PyErr_SetString(PyExc_TypeError, "configure_eob: record types expected");
        return NULL;
    }
    set_obj((PyObject **)&EOBT, eob);
    set_obj((PyObject **)&EOBLineT, eobline);
    set_obj(&ZERO, zero);
    if (get_index(idx, "patient_control_number", &CP_PCN) ||
        get_index(idx, "payer_claim_control_number", &CP_PAYER_CCN) || get_index(idx, "status", &CP_STATUS) ||
        get_index(idx, "original_reference_number", &CP_ORIGREF) ||
        get_index(idx, "filing_indicator", &CP_FILING) || get_index(idx, "facility_type", &CP_FACILITY) ||
        get_index(idx, "frequency", &CP_FREQ) || get_index(idx, "statement_from", &CP_SFROM) ||
        get_index(idx, "statement_to", &CP_STO) || get_index(idx, "charge", &CP_CHARGE) ||
        get_index(idx, "paid", &CP_PAID) || get_index(idx, "patient_responsibility", &CP_PR) ||
        get_index(idx, "adjustments", &CP_ADJ) || get_index(idx, "inpatient", &CP_INPATIENT) ||
        get_index(idx, "outpatient", &CP_OUTPATIENT) || get_index(idx, "lines", &CP_LINES) ||
        get_index(idx, "payer_name", &RM_PAYER_NAME) || get_index(idx, "payer_id", &RM_PAYER_ID) ||
        get_index(idx, "payee_name", &RM_PAYEE_NAME) || get_index(idx, "payee_id", &RM_PAYEE_ID) ||
        get_index(idx, "trace_number", &RM_TRACE) || get_index(idx, "payment_method", &RM_METHOD) ||
        get_index(idx, "handling_code", &RM_HANDLING) || get_index(idx, "payment_date", &RM_PAYDATE))
        return NULL;
    configured_eob = 1;
    Py_RETURN_NONE;
}

/* ---- small helpers ------------------------------------------------------------------------------ */

/* a record (NamedTuple subclass of tuple) from the items of a list, as tuple.__new__(T, list) does */
static PyObject *
make_record(PyTypeObject *t, PyObject *list)
{
    Py_ssize_t n = PyList_GET_SIZE(list);
    PyObject *rec = t->tp_alloc(t, n);
    if (rec == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyList_GET_ITEM(list, i);
        Py_INCREF(v);
        PyTuple_SET_ITEM(rec, i, v);
    }
    return rec;
}

/* a record from n new references (stolen) */
static PyObject *
make_record_n(PyTypeObject *t, Py_ssize_t n, PyObject **items)
{
    PyObject *rec = t->tp_alloc(t, n);
    if (rec == NULL) {
        for (Py_ssize_t i = 0; i < n; i++)
            Py_XDECREF(items[i]);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (items[i] == NULL) {
            Py_DECREF(rec);
            for (Py_ssize_t j = i + 1; j < n; j++)
                Py_XDECREF(items[j]);
            return NULL;
        }
        PyTuple_SET_ITEM(rec, i, items[i]);
    }
    return rec;
}

static inline int
span_is(const Py_UCS1 *d, Span s, const char *lit, Py_ssize_t n)
{
    return s.len == n && memcmp(d + s.off, lit, n) == 0;
}

static inline PyObject *
sub(PyObject *seg, Span s)
{
    return PyUnicode_Substring(seg, s.off, s.off + s.len);
}

static int
split(const Py_UCS1 *d, Py_ssize_t n, Py_UCS1 sep, Span *out, int max)
{
    int k = 0;
    Py_ssize_t start = 0;
    const Py_UCS1 *p = d, *end = d + n;
    for (;;) {
        const Py_UCS1 *q = memchr(p, sep, end - p);
        if (q == NULL)
            break;
        if (k >= max - 1)
            return -1;
        out[k].off = start;
        out[k].len = (q - d) - start;
        k++;
        start = (q - d) + 1;
        p = q + 1;
    }
    out[k].off = start;
    out[k].len = n - start;
    return k + 1;
}

/* What an element may hold, from least to most restricted: a plain R number (CLP12 DRG weight), a
 * stored quantity (NUMERIC(15,3): CAS04, SVC05), money (NUMERIC(14,2)). Money fits a quantity column. */
enum { K_NUMBER = 1, K_QUANTITY = 2, K_MONEY = 3 };

/* X12 R: optional minus, ASCII digits, at most one decimal point, 1-18 digits (parsers.values._valid_r).
 * Returns 0 when invalid, else the most restricted kind the value fits (parsers.values._fits):
 * significant integer digits within the column, no non-zero decimal past its scale. */
static int
valid_r(const Py_UCS1 *p, Py_ssize_t n, int *mag)
{
    Py_ssize_t i = 0, dot = -1;
    if (n > 0 && p[0] == '-')
        i = 1;
    Py_ssize_t start = i;
    for (; i < n; i++) {
        Py_UCS1 c = p[i];
        if ((unsigned)(c - '0') <= 9)
            continue;
        if (c == '.' && dot < 0) {
            dot = i;
            continue;
        }
        return 0;
    }
    Py_ssize_t digits = n - start - (dot >= 0);
    if (digits == 0 || digits > 18)
        return 0;
    Py_ssize_t iend = dot >= 0 ? dot : n, k = start, last_nz_dec = 0;
    while (k < iend && p[k] == '0')
        k++;
    Py_ssize_t sig_int = iend - k;
    if (dot >= 0) {
        Py_ssize_t j = n - 1;
        while (j > dot && p[j] == '0')
            j--;
        last_nz_dec = j - dot;
    }
    *mag = (int)sig_int;
    if (sig_int <= MONEY_INT && last_nz_dec <= MONEY_DEC)
        return K_MONEY;
    if (sig_int <= QTY_INT && last_nz_dec <= QTY_DEC)
        return K_QUANTITY;
    return K_NUMBER;
}

/* Small direct-mapped caches of converted values, keyed by the element's bytes.
 *
 * Why not parsers.values.AMOUNTS: a lookup in a dict of 100k+ amounts costs ~300 ns (a fresh key
 * string, its hash, and cache misses in a table of megabytes), more than Decimal(str) itself
 * (~130 ns). A 4,096-slot table of the element bytes sits in L2, needs no key object on a hit, and
 * falls back to Decimal(str) on a miss. Values are immutable, so sharing them is safe; they equal what
 * the Python path builds from the same string. */
#define ACACHE_SLOTS 4096
#define DCACHE_SLOTS 256
#define CKEY 21 /* an R value is at most 20 characters (18 digits, sign, point): every amount fits */
typedef struct {
    unsigned char len;
    unsigned char kind; /* amounts: the K_* kind the value fits */
    unsigned char mag;  /* amounts: significant integer digits, |value| < 10**mag */
    char key[CKEY];
    PyObject *val;
} CacheEntry;
static CacheEntry acache[ACACHE_SLOTS];
static CacheEntry dcache[DCACHE_SLOTS];

static inline unsigned int
fnv1a(const Py_UCS1 *p, Py_ssize_t n)
{
    unsigned int h = 2166136261u;
    for (Py_ssize_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h ^ (h >> 15);
}

static inline PyObject *
cache_get(CacheEntry *e, const Py_UCS1 *p, Py_ssize_t n)
{
    if (e->val != NULL && e->len == n && memcmp(e->key, p, n) == 0)
        return Py_NewRef(e->val);
    return NULL;
}

static inline void
cache_put(CacheEntry *e, const Py_UCS1 *p, Py_ssize_t n, PyObject *v)
{
    if (n > CKEY)
        return;
    Py_XSETREF(e->val, Py_NewRef(v));
    e->len = (unsigned char)n;
    memcpy(e->key, p, n);
}

/* Bounds of the balancing sums, kept without Decimal arithmetic: every amount with `mag` significant
 * integer digits is below 10**mag, so a line's SVC02 - SVC03 and sum of CAS are below the sum of
 * 10**mag over its amounts; when that bound is at most 10**12 (amounts are whole cents) both fit
 * NUMERIC(14,2) and the exact Decimal check is skipped. Saturates at BOUND_CAP ("unknown"). */
static const long long POW10[19] = {
    1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL, 100000000LL, 1000000000LL,
    10000000000LL, 100000000000LL, 1000000000000LL, 10000000000000LL, 100000000000000LL,
    1000000000000000LL, 10000000000000000LL, 100000000000000000LL, 1000000000000000000LL,
};
#define BOUND_CAP 4000000000000000000LL
static int last_mag; /* mag of the value the last successful get_value returned */

static inline void
bump(long long *b, long long v)
{
    *b = (*b > BOUND_CAP - v) ? BOUND_CAP : *b + v;
}

/* A value of kind `kind` (K_MONEY, K_QUANTITY, K_NUMBER).
 * 1: *out = new ref; 0: not the happy case (Python decides); -1: error set */
static int
get_value(PyObject *seg, const Py_UCS1 *d, Span s, PyObject **out, int kind)
{
    if (s.len == 0)
        return 0;
    const Py_UCS1 *p = d + s.off;
    CacheEntry *e = NULL;
    if (s.len <= CKEY) {
        e = &acache[fnv1a(p, s.len) & (ACACHE_SLOTS - 1)];
        if (e->val != NULL && e->len == s.len && memcmp(e->key, p, s.len) == 0) {
            if (e->kind < kind)
                return 0; /* e.g. a DRG weight 1.2345 asked for as money: Python raises */
            last_mag = e->mag;
            *out = Py_NewRef(e->val);
            return 1;
        }
    }
    int mag = 0;
    int fits = valid_r(p, s.len, &mag);
    if (fits < kind)
        return 0;
    PyObject *key = sub(seg, s);
    if (key == NULL)
        return -1;
    PyObject *v = PyObject_CallOneArg(DecimalType, key);
    Py_DECREF(key);
    if (v == NULL) {
        PyErr_Clear();
        return 0;
    }
    if (e != NULL) {
        cache_put(e, p, s.len, v);
        e->kind = (unsigned char)fits;
        e->mag = (unsigned char)mag;
    }
    last_mag = mag;
    *out = v;
    return 1;
}

#define get_amount(seg, d, s, out) get_value(seg, d, s, out, K_MONEY)
#define get_quantity(seg, d, s, out) get_value(seg, d, s, out, K_QUANTITY)
#define get_number(seg, d, s, out) get_value(seg, d, s, out, K_NUMBER)

static int
get_date(PyObject *seg, const Py_UCS1 *d, Span s, PyObject **out)
{
    if (s.len != 8)
        return 0;
    const Py_UCS1 *p = d + s.off;
    CacheEntry *e = &dcache[fnv1a(p, 8) & (DCACHE_SLOTS - 1)];
    PyObject *v = cache_get(e, p, 8);
    if (v != NULL) {
        *out = v;
        return 1;
    }
    for (int i = 0; i < 8; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
    }
    int y = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
    int m = (p[4] - '0') * 10 + (p[5] - '0');
    int dd = (p[6] - '0') * 10 + (p[7] - '0');
    v = PyDate_FromDate(y, m, dd);
    if (v == NULL) {
        PyErr_Clear();
        return 0;
    }
    cache_put(e, p, 8, v);
    *out = v;
    return 1;
}

/* Code values (CARC "45", group "CO", qualifiers, procedure codes, modifiers) repeat on every claim:
 * share one str per distinct code instead of allocating a new one each time. Never used for names or
 * IDs (patient data), which rarely repeat. */
#define SCACHE_SLOTS 2048
static CacheEntry scache[SCACHE_SLOTS];

static PyObject *
code(PyObject *seg, const Py_UCS1 *d, Span s)
{
    if (s.len == 0 || s.len > 8)
        return sub(seg, s);
    const Py_UCS1 *p = d + s.off;
    CacheEntry *e = &scache[fnv1a(p, s.len) & (SCACHE_SLOTS - 1)];
    PyObject *v = cache_get(e, p, s.len);
    if (v != NULL)
        return v;
    v = sub(seg, s);
    if (v != NULL)
        cache_put(e, p, s.len, v);
    return v;
}

/* rec[idx]: append item when it is already a list, else rec[idx] = [item]. Steals item. */
static int
append_or_new(PyObject *rec, Py_ssize_t idx, PyObject *item)
{
    PyObject *v = PyList_GET_ITEM(rec, idx);
    if (PyList_CheckExact(v) && PyList_GET_SIZE(v) > 0) {
        int rc = PyList_Append(v, item);
        Py_DECREF(item);
        return rc;
    }
    PyObject *nl = PyList_New(1);
    if (nl == NULL) {
        Py_DECREF(item);
        return -1;
    }
    PyList_SET_ITEM(nl, 0, item);
    return PyList_SetItem(rec, idx, nl);
}

static PyObject *
pair(PyObject *seg, const Py_UCS1 *d, Span q, PyObject *v /* stolen */)
{
    PyObject *qs = code(seg, d, q);
    if (qs == NULL) {
        Py_DECREF(v);
        return NULL;
    }
    PyObject *t = PyTuple_New(2);
    if (t == NULL) {
        Py_DECREF(qs);
        Py_DECREF(v);
        return NULL;
    }
    PyTuple_SET_ITEM(t, 0, qs);
    PyTuple_SET_ITEM(t, 1, v);
    return t;
}

/* *acc = *acc + v (new object, as `acc += v` does for Decimal) */
static int
add_to(PyObject **acc, PyObject *v)
{
    PyObject *r = PyNumber_Add(*acc, v);
    if (r == NULL)
        return -1;
    Py_SETREF(*acc, r);
    return 0;
}

/* ---- scanner state ------------------------------------------------------------------------------ */

typedef struct {
    PyObject *claim, *line, *lines, *lcas, *ccas; /* strong refs */
    long long segno, claim_segno, n_claims, n_lines, bad_claims, bad_lines;
    long long lb, cb; /* bounds of the open line's / claim's balancing sums (see POW10); BOUND_CAP: unknown */
    PyObject *t_charge, *t_paid, *t_pr, *out;     /* strong refs */
    int build;
    PyObject *head[5]; /* sha256, isa13, gs06, st02, lx (borrowed from ctx) */
} State;

enum {
    S_CLAIM, S_LINE, S_LINES, S_LCAS, S_CCAS, S_SEGNO, S_CLAIM_SEGNO, S_N_CLAIMS, S_N_LINES, S_BAD_CLAIMS,
    S_BAD_LINES, S_T_CHARGE, S_T_PAID, S_T_PR, S_OUT, S_LEN
};

static long long
as_ll(PyObject *o, int *err)
{
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred())
        *err = 1;
    return v;
}

static int
load_state(State *s, PyObject *st, PyObject *ctx)
{
    int err = 0;
    if (!PyList_CheckExact(st) || PyList_GET_SIZE(st) != S_LEN || !PyTuple_Check(ctx) ||
        PyTuple_GET_SIZE(ctx) != 6) {
        PyErr_SetString(PyExc_TypeError, "scan835: bad state");
        return -1;
    }
#define G(i) PyList_GET_ITEM(st, i)
    s->claim = G(S_CLAIM);
    s->line = G(S_LINE);
    s->lines = G(S_LINES);
    s->lcas = G(S_LCAS);
    s->ccas = G(S_CCAS);
    s->t_charge = G(S_T_CHARGE);
    s->t_paid = G(S_T_PAID);
    s->t_pr = G(S_T_PR);
    s->out = G(S_OUT);
    Py_INCREF(s->claim);
    Py_INCREF(s->line);
    Py_INCREF(s->lines);
    Py_INCREF(s->lcas);
    Py_INCREF(s->ccas);
    Py_INCREF(s->t_charge);
    Py_INCREF(s->t_paid);
    Py_INCREF(s->t_pr);
    Py_INCREF(s->out);
    s->segno = as_ll(G(S_SEGNO), &err);
    s->claim_segno = as_ll(G(S_CLAIM_SEGNO), &err);
    s->n_claims = as_ll(G(S_N_CLAIMS), &err);
    s->n_lines = as_ll(G(S_N_LINES), &err);
    s->bad_claims = as_ll(G(S_BAD_CLAIMS), &err);
    s->bad_lines = as_ll(G(S_BAD_LINES), &err);
#undef G
    s->lb = s->cb = BOUND_CAP; /* a claim or line opened by Python: check exactly when it ends */
    s->build = PyObject_IsTrue(PyTuple_GET_ITEM(ctx, 0));
    for (int i = 0; i < 5; i++)
        s->head[i] = PyTuple_GET_ITEM(ctx, i + 1);
    if (err || s->build < 0 || !PyList_CheckExact(s->out) ||
        (s->claim != Py_None && (!PyList_CheckExact(s->claim) ||
                                 PyList_GET_SIZE(s->claim) != CLAIM_HEAD + PyList_GET_SIZE(CLAIM_TAIL))) ||
        (s->line != Py_None && (!PyList_CheckExact(s->line) ||
                                PyList_GET_SIZE(s->line) != LINE_HEAD + PyList_GET_SIZE(LINE_TAIL))) ||
        !PyList_CheckExact(s->lines)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "scan835: bad state");
        return -1;
    }
    return 0;
}

static void
release_state(State *s)
{
    Py_CLEAR(s->claim);
    Py_CLEAR(s->line);
    Py_CLEAR(s->lines);
    Py_CLEAR(s->lcas);
    Py_CLEAR(s->ccas);
    Py_CLEAR(s->t_charge);
    Py_CLEAR(s->t_paid);
    Py_CLEAR(s->t_pr);
    Py_CLEAR(s->out);
}

static int
store_state(State *s, PyObject *st)
{
    PyObject *vals[S_LEN];
    vals[S_CLAIM] = s->claim;
    vals[S_LINE] = s->line;
    vals[S_LINES] = s->lines;
    vals[S_LCAS] = s->lcas;
    vals[S_CCAS] = s->ccas;
    vals[S_T_CHARGE] = s->t_charge;
    vals[S_T_PAID] = s->t_paid;
    vals[S_T_PR] = s->t_pr;
    vals[S_OUT] = s->out;
    for (int i = 0; i < S_LEN; i++) {
        if (i == S_SEGNO || i == S_CLAIM_SEGNO || i == S_N_CLAIMS || i == S_N_LINES || i == S_BAD_CLAIMS ||
            i == S_BAD_LINES)
            continue;
        Py_INCREF(vals[i]);
        PyList_SetItem(st, i, vals[i]);
    }
    long long nums[6] = {s->segno, s->claim_segno, s->n_claims, s->n_lines, s->bad_claims, s->bad_lines};
    int pos[6] = {S_SEGNO, S_CLAIM_SEGNO, S_N_CLAIMS, S_N_LINES, S_BAD_CLAIMS, S_BAD_LINES};
    for (int i = 0; i < 6; i++) {
        PyObject *v = PyLong_FromLongLong(nums[i]);
        if (v == NULL)
            return -1;
        PyList_SetItem(st, pos[i], v);
    }
    return 0;
}

/* end of a service line: balancing count, ccas += lcas, the ServiceLine record (Python: finish/SVC) */
static int
close_line(State *s)
{
    PyObject *line = s->line;
    PyObject *diff = PyNumber_Subtract(PyList_GET_ITEM(line, L_CHARGE), PyList_GET_ITEM(line, L_PAID));
    if (diff == NULL)
        return -1;
    int ne = PyObject_RichCompareBool(diff, s->lcas, Py_NE);
    Py_DECREF(diff);
    if (ne < 0)
        return -1;
    if (ne)
        s->bad_lines++;
    if (add_to(&s->ccas, s->lcas) < 0)
        return -1;
    if (s->build) {
        PyObject *rec = make_record(ServiceLineT, line);
        if (rec == NULL)
            return -1;
        int rc = PyList_Append(s->lines, rec);
        Py_DECREF(rec);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* end of a claim payment loop (Python: _Parser.finish); the record goes to s->out */
static int
finish_claim(State *s)
{
    PyObject *claim = s->claim;
    if (s->line != Py_None && close_line(s) < 0)
        return -1;
    PyObject *charge = PyList_GET_ITEM(claim, C_CHARGE), *paid = PyList_GET_ITEM(claim, C_PAID);
    PyObject *diff = PyNumber_Subtract(charge, paid);
    if (diff == NULL)
        return -1;
    int ne = PyObject_RichCompareBool(diff, s->ccas, Py_NE);
    Py_DECREF(diff);
    if (ne < 0)
        return -1;
    if (ne)
        s->bad_claims++;
    s->n_claims++;
    if (add_to(&s->t_charge, charge) < 0 || add_to(&s->t_paid, paid) < 0)
        return -1;
    PyObject *pr = PyList_GET_ITEM(claim, C_PR);
    if (pr != Py_None && add_to(&s->t_pr, pr) < 0)
        return -1;
    if (!s->build)
        return 0;
    if (PyList_GET_SIZE(s->lines) > 0) {
        Py_INCREF(s->lines);
        if (PyList_SetItem(claim, C_LINES, s->lines) < 0)
            return -1;
    }
    PyObject *rec = make_record(ClaimPaymentT, claim);
    if (rec == NULL)
        return -1;
    int rc = PyList_Append(s->out, rec);
    Py_DECREF(rec);
    return rc;
}

/* ---- the balancing figures the database stores must fit NUMERIC(14,2) ---------------------------- *
 * Python raises in _Parser.finish / at SVC when SVC02 - SVC03, a line's or claim's sum of CAS, or
 * CLP03 - CLP04 is beyond +-999,999,999,999.99; here such a claim or line is left to Python before
 * anything changes. 1 fits, 0 does not, -1 error. */

static inline int
in_money_range(PyObject *v)
{
    int r = PyObject_RichCompareBool(v, MONEY_MAX_O, Py_LE);
    if (r <= 0)
        return r;
    return PyObject_RichCompareBool(v, MONEY_MIN_O, Py_GE);
}

/* charge - paid of a line or claim list, and its CAS sum when the two differ */
static int
sums_fit(PyObject *rec, Py_ssize_t charge, Py_ssize_t paid, PyObject *cas)
{
    PyObject *diff = PyNumber_Subtract(PyList_GET_ITEM(rec, charge), PyList_GET_ITEM(rec, paid));
    if (diff == NULL)
        return -1;
    int r = in_money_range(diff);
    if (r == 1) {
        int ne = PyObject_RichCompareBool(diff, cas, Py_NE);
        r = ne < 0 ? -1 : ne ? in_money_range(cas) : 1;
    }
    Py_DECREF(diff);
    return r;
}

static int
claim_sums_fit(State *s)
{
    if (s->line == Py_None)
        return sums_fit(s->claim, C_CHARGE, C_PAID, s->ccas);
    int r = sums_fit(s->line, L_CHARGE, L_PAID, s->lcas);
    if (r != 1)
        return r;
    PyObject *total = PyNumber_Add(s->ccas, s->lcas);
    if (total == NULL)
        return -1;
    r = sums_fit(s->claim, C_CHARGE, C_PAID, total);
    Py_DECREF(total);
    return r;
}

/* ---- segment handlers: 1 handled, 0 leave to Python (nothing changed), -1 error ----------------- */

static int
h_dtm(State *s, PyObject *seg, const Py_UCS1 *d, Span *el, int ne)
{
    if (ne < 3)
        return 0;
    PyObject *date;
    int r = get_date(seg, d, el[2], &date);
    if (r <= 0)
        return r;
    Span q = el[1];
    if (s->line != Py_None) {
        Py_ssize_t k = span_is(d, q, "472", 3) ? L_DATE
                       : span_is(d, q, "150", 3) ? L_FROM
                       : span_is(d, q, "151", 3) ? L_TO
                                                 : -1;
        if (k < 0) {
            Py_DECREF(date);
            return 0;
        }
        return PyList_SetItem(s->line, k, date) < 0 ? -1 : 1;
    }
    if (s->claim != Py_None) {
        Py_ssize_t k = span_is(d, q, "232", 3) ? C_FROM
                       : span_is(d, q, "233", 3) ? C_TO
                       : span_is(d, q, "050", 3) ? C_RECEIVED
                       : span_is(d, q, "036", 3) ? C_EXPIRES
                                                 : -1;
        if (k >= 0)
            return PyList_SetItem(s->claim, k, date) < 0 ? -1 : 1;
        if (q.len > MX_DTM01) {
            Py_DECREF(date);
            return 0;
        }
        PyObject *t = pair(seg, d, q, date);
        if (t == NULL)
            return -1;
        return append_or_new(s->claim, C_DATES, t) < 0 ? -1 : 1;
    }
    Py_DECREF(date); /* header DTM: Python */
    return 0;
}

static int
h_amt(State *s, PyObject *seg, const Py_UCS1 *d, Span *el, int ne)
{
    if (ne < 3 || el[1].len > MX_AMT01)
        return 0;
    PyObject *rec = s->line != Py_None ? s->line : s->claim;
    if (rec == Py_None)
        return 0;
    PyObject *a;
    int r = get_amount(seg, d, el[2], &a);
    if (r <= 0)
        return r;
    if (s->line != Py_None && span_is(d, el[1], "B6", 2))
        return PyList_SetItem(s->line, L_ALLOWED, a) < 0 ? -1 : 1;
    PyObject *t = pair(seg, d, el[1], a);
    if (t == NULL)
        return -1;
    return append_or_new(rec, s->line != Py_None ? L_AMTS : C_AMTS, t) < 0 ? -1 : 1;
}

static PyObject *
adjustment(PyObject *g, PyObject *r, PyObject *a, PyObject *q)
{
    PyObject *items[4] = {g, r, a, q};
    Py_INCREF(g);
    Py_INCREF(r);
    Py_INCREF(a);
    Py_INCREF(q);
    return make_record_n(AdjustmentT, 4, items);
}

static int
h_cas(State *s, PyObject *seg, const Py_UCS1 *d, Span *el, int ne)
{
    if (ne < 4)
        return 0;
    if (s->line == Py_None && s->claim == Py_None)
        return 0;
    PyObject *a0, *adj = NULL, *total = NULL, *g = NULL, *tmp = NULL;
    int r = get_amount(seg, d, el[3], &a0);
    if (r <= 0)
        return r;
    long long bound = POW10[last_mag]; /* of the amounts added to the sums (see POW10) */
    int rc = -1;
    if (ne == 4 && el[1].len && el[2].len && el[1].len <= MX_CAS01 && el[2].len <= MX_CAS02) {
        if (s->build) {
            g = code(seg, d, el[1]);
            PyObject *rs = g ? code(seg, d, el[2]) : NULL;
            if (rs == NULL)
                goto done;
            tmp = adjustment(g, rs, a0, Py_None);
            Py_DECREF(rs);
            if (tmp == NULL)
                goto done;
            adj = PyList_New(1);
            if (adj == NULL)
                goto done;
            PyList_SET_ITEM(adj, 0, tmp);
            tmp = NULL;
        }
        total = a0;
        Py_INCREF(total);
    }
    else {
        /* several reasons and/or quantities: _Parser.cas, Python decides anything unusual */
        if (el[1].len == 0 || el[1].len > MX_CAS01) {
            rc = 0;
            goto done;
        }
        g = code(seg, d, el[1]);
        adj = PyList_New(0);
        if (g == NULL || adj == NULL)
            goto done;
        for (int i = 2; i < ne; i += 3) {
            PyObject *a = NULL, *qty = NULL;
            if (el[i].len > MX_CAS02) {
                rc = 0;
                goto done;
            }
            if (i == 2) {
                a = a0;
                Py_INCREF(a);
            }
            else if (i + 1 < ne && el[i + 1].len) {
                r = get_amount(seg, d, el[i + 1], &a);
                if (r <= 0) {
                    rc = r;
                    goto done;
                }
                bump(&bound, POW10[last_mag]);
            }
            if (i + 2 < ne && el[i + 2].len) {
                r = get_quantity(seg, d, el[i + 2], &qty);
                if (r <= 0) {
                    Py_XDECREF(a);
                    rc = r;
                    goto done;
                }
            }
            if (el[i].len) {
                if (a == NULL) {
                    Py_XDECREF(qty);
                    rc = 0;
                    goto done;
                }
                PyObject *rs = code(seg, d, el[i]);
                if (rs == NULL) {
                    Py_DECREF(a);
                    Py_XDECREF(qty);
                    goto done;
                }
                tmp = adjustment(g, rs, a, qty ? qty : Py_None);
                Py_DECREF(rs);
                Py_DECREF(a);
                Py_XDECREF(qty);
                if (tmp == NULL || PyList_Append(adj, tmp) < 0)
                    goto done;
                Py_CLEAR(tmp);
            }
            else if (a != NULL || qty != NULL) {
                Py_XDECREF(a);
                Py_XDECREF(qty);
                rc = 0;
                goto done;
            }
        }
        Py_ssize_t nadj = PyList_GET_SIZE(adj);
        if (nadj == 0 || nadj > 6) {
            rc = 0;
            goto done;
        }
        total = a0;
        Py_INCREF(total);
        for (Py_ssize_t j = 1; j < nadj; j++) {
            if (add_to(&total, PyTuple_GET_ITEM(PyList_GET_ITEM(adj, j), 2)) < 0)
                goto done;
        }
    }
    /* validated: apply to the open line, else to the claim */
    {
        int on_line = s->line != Py_None;
        PyObject *rec = on_line ? s->line : s->claim;
        Py_ssize_t k = on_line ? L_ADJ : C_ADJ;
        if (add_to(on_line ? &s->lcas : &s->ccas, total) < 0)
            goto done;
        if (on_line)
            bump(&s->lb, bound);
        bump(&s->cb, bound);
        if (adj != NULL) {
            PyObject *v = PyList_GET_ITEM(rec, k);
            if (PyList_CheckExact(v) && PyList_GET_SIZE(v) > 0) {
                if (PyList_SetSlice(v, PY_SSIZE_T_MAX, PY_SSIZE_T_MAX, adj) < 0)
                    goto done;
            }
            else if (PyList_SetItem(rec, k, Py_NewRef(adj)) < 0)
                goto done;
        }
    }
    rc = 1;
done:
    Py_XDECREF(tmp);
    Py_XDECREF(adj);
    Py_XDECREF(total);
    Py_XDECREF(g);
    Py_DECREF(a0);
    return rc;
}

static int
h_ref(State *s, PyObject *seg, const Py_UCS1 *d, Span *el, int ne)
{
    if (ne < 3)
        return 0;
    if (s->line == Py_None && s->claim == Py_None)
        return 0; /* header REF: Python */
    if (el[1].len > MX_REF01 || el[2].len > MX_REF02)
        return 0;
    PyObject *x = sub(seg, el[2]);
    if (x == NULL)
        return -1;
    if (s->line != Py_None) {
        if (span_is(d, el[1], "6R", 2))
            return PyList_SetItem(s->line, L_CTRL, x) < 0 ? -1 : 1;
        PyObject *t = pair(seg, d, el[1], x);
        return (t == NULL || append_or_new(s->line, L_REFS, t) < 0) ? -1 : 1;
    }
    if (span_is(d, el[1], "F8", 2) && PyList_GET_ITEM(s->claim, C_ORIGREF) == Py_None) {
        if (PyList_SetItem(s->claim, C_ORIGREF, Py_NewRef(x)) < 0) {
            Py_DECREF(x);
            return -1;
        }
    }
    PyObject *t = pair(seg, d, el[1], x);
    return (t == NULL || append_or_new(s->claim, C_REFS, t) < 0) ? -1 : 1;
}

static int
h_lq(State *s, PyObject *seg, const Py_UCS1 *d, Span *el, int ne)
{
    if (s->line == Py_None || ne < 3 || el[1].len > MX_LQ01 || el[2].len > MX_LQ02)
        return 0;
    PyObject *x = code(seg, d, el[2]);
    if (x == NULL)
        return -1;
    return append_or_new(s->line, span_is(d, el[1], "HE", 2) ? L_RARC : L_NCPDP, x) < 0 ? -1 : 1;
}

static int
h_nm1(State *s, PyObject *seg, const Py_UCS1 *d, Span *el, int ne)
{
    if (s->claim == Py_None || s->line != Py_None)
        return 0;
    static const int pick[8] = {1, 2, 3, 4, 5, 7, 8, 9};
    const Py_ssize_t maxlen[8] = {MX_NM101, MX_NM102, MX_NM103, MX_NM104, MX_NM105, MX_NM107, MX_NM108, MX_NM109};
    for (int i = 0; i < 8 && pick[i] < ne; i++) {
        if (el[pick[i]].len > maxlen[i])
            return 0;
    }
    if (!s->build)
        return 1;
    PyObject *items[8];
    for (int i = 0; i < 8; i++) {
        int j = pick[i];
        items[i] = j >= ne ? PyUnicode_New(0, 0) : (j == 1 || j == 2 || j == 8) ? code(seg, d, el[j]) : sub(seg, el[j]);
    }
    PyObject *party = make_record_n(PartyT, 8, items);
    if (party == NULL)
        return -1;
    PyObject *k = PyDict_GetItemWithError(CLAIM_NM1, PyTuple_GET_ITEM(party, 0));
    if (k == NULL && PyErr_Occurred()) {
        Py_DECREF(party);
        return -1;
    }
    if (k != NULL) {
        Py_ssize_t pos = PyLong_AsSsize_t(k);
        if (pos == -1 && PyErr_Occurred()) {
            Py_DECREF(party);
            return -1;
        }
        if (PyList_GET_ITEM(s->claim, pos) == Py_None)
            return PyList_SetItem(s->claim, pos, party) < 0 ? -1 : 1;
    }
    return append_or_new(s->claim, C_OTHER_PARTIES, party) < 0 ? -1 : 1;
}

static int
h_svc(State *s, PyObject *seg, const Py_UCS1 *d, Span *el, int ne, Py_UCS1 csep)
{
    if (s->claim == Py_None || ne < 4 || ne > 6)
        return 0; /* SVC06/07 (procedure as submitted): Python */
    Span comp[MAXCOMP];
    int nc = split(d + el[1].off, el[1].len, csep, comp, MAXCOMP);
    if (nc < 2 || comp[1].len == 0)
        return 0;
    for (int i = 0; i < nc; i++)
        comp[i].off += el[1].off;
    if (comp[0].len > MX_SVC01_1 || comp[1].len > MX_SVC01_2 || (ne > 4 && el[4].len > MX_SVC04) ||
        (nc > 6 && comp[6].len > MX_SVC01_7) || (span_is(d, comp[0], "NU", 2) && comp[1].len > MX_REVENUE))
        return 0;
    for (int i = 2; i < nc && i < 6; i++) {
        if (comp[i].len > MX_SVC01_MOD)
            return 0;
    }
    PyObject *a = NULL, *p = NULL, *units = NULL;
    int r = get_amount(seg, d, el[2], &a);
    if (r <= 0)
        return r;
    long long bound = POW10[last_mag];
    r = get_amount(seg, d, el[3], &p);
    if (r <= 0) {
        Py_DECREF(a);
        return r;
    }
    bound += POW10[last_mag];
    if (ne > 5 && el[5].len) {
        r = get_quantity(seg, d, el[5], &units);
        if (r <= 0) {
            Py_DECREF(a);
            Py_DECREF(p);
            return r;
        }
    }
    else {
        units = Py_None;
        Py_INCREF(units);
    }
    if (s->line != Py_None && s->lb > POW10[MONEY_INT]) {
        r = sums_fit(s->line, L_CHARGE, L_PAID, s->lcas);
        if (r <= 0) {
            Py_DECREF(a);
            Py_DECREF(p);
            Py_DECREF(units);
            return r;
        }
    }
    /* validated: close the open line, open this one */
    long long segno = s->segno + 1;
    PyObject *line = NULL;
    if (s->line != Py_None && close_line(s) < 0)
        goto fail;
    Py_SETREF(s->lcas, Py_NewRef(ZERO));
    s->n_lines++;
    Py_ssize_t ntail = PyList_GET_SIZE(LINE_TAIL);
    line = PyList_New(LINE_HEAD + ntail);
    if (line == NULL)
        goto fail;
    PyObject *mods;
    if (nc > 2) {
        int m = nc - 2 < 4 ? nc - 2 : 4;
        mods = PyTuple_New(m);
        if (mods == NULL)
            goto fail;
        for (int i = 0; i < m; i++) {
            PyObject *x = code(seg, d, comp[2 + i]);
            if (x == NULL) {
                Py_DECREF(mods);
                goto fail;
            }
            PyTuple_SET_ITEM(mods, i, x);
        }
    }
    else {
        mods = PyTuple_New(0);
    }
    PyObject *head[13] = {
        PyLong_FromLongLong(segno),
        code(seg, d, comp[0]),
        code(seg, d, comp[1]),
        mods,
        nc > 6 ? code(seg, d, comp[6]) : PyUnicode_New(0, 0),
        a,
        p,
        ne > 4 ? code(seg, d, el[4]) : PyUnicode_New(0, 0),
        units,
        PyUnicode_New(0, 0),
        PyUnicode_New(0, 0),
        PyTuple_New(0),
        Py_NewRef(Py_None),
    };
    a = p = units = NULL; /* now owned by head */
    int bad = 0;
    for (int i = 0; i < 13; i++) {
        if (head[i] == NULL)
            bad = 1;
        if (i < LINE_HEAD)
            PyList_SET_ITEM(line, i, head[i] ? head[i] : Py_NewRef(Py_None));
        else
            Py_XDECREF(head[i]);
    }
    for (Py_ssize_t i = 0; i < ntail; i++)
        PyList_SET_ITEM(line, LINE_HEAD + i, Py_NewRef(PyList_GET_ITEM(LINE_TAIL, i)));
    if (bad)
        goto fail;
    Py_SETREF(s->line, line);
    s->lb = bound;
    return 1;
fail:
    Py_XDECREF(line);
    Py_XDECREF(a);
    Py_XDECREF(p);
    Py_XDECREF(units);
    return -1;
}

static int
h_clp(State *s, PyObject *seg, const Py_UCS1 *d, Span *el, int ne)
{
    if (s->claim == Py_None)
        return 0; /* first claim of a transaction / LX group: the header goes first (Python) */
    Span e[14];
    for (int i = 0; i < 14; i++) {
        if (i < ne)
            e[i] = el[i];
        else {
            e[i].off = 0;
            e[i].len = 0;
        }
    }
    if (e[1].len == 0 || e[2].len == 0)
        return 0;
    if (e[1].len > MX_CLP01 || e[2].len > MX_CLP02 || e[6].len > MX_CLP06 || e[7].len > MX_CLP07 ||
        e[8].len > MX_CLP08 || e[9].len > MX_CLP09 || e[11].len > MX_CLP11)
        return 0;
    PyObject *a = NULL, *p = NULL, *pr = NULL, *n12 = NULL, *n13 = NULL;
    int r = get_amount(seg, d, e[3], &a);
    if (r <= 0)
        return r;
    long long bound = POW10[last_mag];
    r = get_amount(seg, d, e[4], &p);
    if (r <= 0)
        goto bail;
    bound += POW10[last_mag];
    if (e[5].len) {
        r = get_amount(seg, d, e[5], &pr);
        if (r <= 0)
            goto bail;
    }
    if (e[12].len) {
        r = get_number(seg, d, e[12], &n12);
        if (r <= 0)
            goto bail;
    }
    if (e[13].len) {
        r = get_number(seg, d, e[13], &n13);
        if (r <= 0)
            goto bail;
    }
    if (s->cb > POW10[MONEY_INT] || (s->line != Py_None && s->lb > POW10[MONEY_INT])) {
        r = claim_sums_fit(s);
        if (r <= 0)
            goto bail;
    }
    /* validated: finish the open claim, start this one */
    if (finish_claim(s) < 0) {
        r = -1;
        goto bail;
    }
    long long segno = s->segno + 1;
    Py_ssize_t ntail = PyList_GET_SIZE(CLAIM_TAIL);
    PyObject *claim = PyList_New(CLAIM_HEAD + ntail);
    if (claim == NULL) {
        r = -1;
        goto bail;
    }
    PyObject *head[18] = {
        Py_NewRef(s->head[0]),
        Py_NewRef(s->head[1]),
        Py_NewRef(s->head[2]),
        Py_NewRef(s->head[3]),
        PyLong_FromLongLong(segno),
        Py_NewRef(s->head[4]),
        sub(seg, e[1]),
        code(seg, d, e[2]),
        a,
        p,
        pr ? pr : Py_NewRef(Py_None),
        code(seg, d, e[6]),
        sub(seg, e[7]),
        code(seg, d, e[8]),
        code(seg, d, e[9]),
        sub(seg, e[11]),
        n12 ? n12 : Py_NewRef(Py_None),
        n13 ? n13 : Py_NewRef(Py_None),
    };
    int bad = 0;
    for (int i = 0; i < 18; i++) {
        if (head[i] == NULL)
            bad = 1;
        if (i < CLAIM_HEAD)
            PyList_SET_ITEM(claim, i, head[i] ? head[i] : Py_NewRef(Py_None));
        else
            Py_XDECREF(head[i]);
    }
    for (Py_ssize_t i = 0; i < ntail; i++)
        PyList_SET_ITEM(claim, CLAIM_HEAD + i, Py_NewRef(PyList_GET_ITEM(CLAIM_TAIL, i)));
    if (bad) {
        Py_DECREF(claim);
        return -1;
    }
    PyObject *lines = PyList_New(0);
    if (lines == NULL) {
        Py_DECREF(claim);
        return -1;
    }
    Py_SETREF(s->claim, claim);
    Py_SETREF(s->line, Py_NewRef(Py_None));
    Py_SETREF(s->lines, lines);
    Py_SETREF(s->lcas, Py_NewRef(ZERO));
    Py_SETREF(s->ccas, Py_NewRef(ZERO));
    s->claim_segno = segno;
    s->cb = bound;
    return 1;
bail:
    Py_XDECREF(a);
    Py_XDECREF(p);
    Py_XDECREF(pr);
    Py_XDECREF(n12);
    Py_XDECREF(n13);
    return r;
}

/* scan835(segs, k, sep, comp, st, ctx) -> index of the first segment left to Python (len(segs): all) */
static PyObject *
scan835(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (!configured_835) {
        PyErr_SetString(PyExc_RuntimeError, "claimflow_speedups: configure_835() first");
        return NULL;
    }
    if (nargs != 6 || !PyList_CheckExact(args[0]) || !PyUnicode_Check(args[2]) || !PyUnicode_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "scan835(segs: list, k: int, sep: str, comp: str, st: list, ctx: tuple)");
        return NULL;
    }
    PyObject *segs = args[0];
    Py_ssize_t k = PyLong_AsSsize_t(args[1]);
    if (k == -1 && PyErr_Occurred())
        return NULL;
    if (PyUnicode_GET_LENGTH(args[2]) != 1 || PyUnicode_GET_LENGTH(args[3]) != 1 ||
        PyUnicode_READ_CHAR(args[2], 0) > 0xFF || PyUnicode_READ_CHAR(args[3], 0) > 0xFF) {
        return PyLong_FromSsize_t(k); /* unusual delimiters: all Python */
    }
    Py_UCS1 sep = (Py_UCS1)PyUnicode_READ_CHAR(args[2], 0);
    Py_UCS1 csep = (Py_UCS1)PyUnicode_READ_CHAR(args[3], 0);
    State s;
    memset(&s, 0, sizeof s);
    if (load_state(&s, args[4], args[5]) < 0) {
        release_state(&s);
        return NULL;
    }
    Span el[MAXEL];
    Py_ssize_t n = PyList_GET_SIZE(segs);
    int r = 1;
    for (; k < n; k++) {
        PyObject *seg = PyList_GET_ITEM(segs, k);
        if (!PyUnicode_CheckExact(seg) || PyUnicode_KIND(seg) != PyUnicode_1BYTE_KIND)
            break;
        const Py_UCS1 *d = PyUnicode_1BYTE_DATA(seg);
        Py_ssize_t len = PyUnicode_GET_LENGTH(seg);
        int ne = split(d, len, sep, el, MAXEL);
        if (ne < 0)
            break;
        Span id = el[0];
        if (id.len == 3) {
            const Py_UCS1 *p = d + id.off;
            if (p[0] == 'D' && p[1] == 'T' && p[2] == 'M')
                r = h_dtm(&s, seg, d, el, ne);
            else if (p[0] == 'A' && p[1] == 'M' && p[2] == 'T')
                r = h_amt(&s, seg, d, el, ne);
            else if (p[0] == 'C' && p[1] == 'A' && p[2] == 'S')
                r = h_cas(&s, seg, d, el, ne);
            else if (p[0] == 'R' && p[1] == 'E' && p[2] == 'F')
                r = h_ref(&s, seg, d, el, ne);
            else if (p[0] == 'S' && p[1] == 'V' && p[2] == 'C')
                r = h_svc(&s, seg, d, el, ne, csep);
            else if (p[0] == 'N' && p[1] == 'M' && p[2] == '1')
                r = h_nm1(&s, seg, d, el, ne);
            else if (p[0] == 'C' && p[1] == 'L' && p[2] == 'P')
                r = h_clp(&s, seg, d, el, ne);
            else
                r = 0;
        }
        else if (id.len == 2 && d[id.off] == 'L' && d[id.off + 1] == 'Q')
            r = h_lq(&s, seg, d, el, ne);
        else
            r = 0;
        if (r <= 0)
            break;
        s.segno++;
    }
    if (r < 0 || store_state(&s, args[4]) < 0) {
        release_state(&s);
        return NULL;
    }
    release_state(&s);
    return PyLong_FromSsize_t(k);
}

/* ---- EOB builder (eob.records.build_eob) -------------------------------------------------------- */

typedef struct {
    PyObject *co, *oa, *pi, *cr, *ded, *coi, *cop, *oth;
} Sums;

static void
sums_init(Sums *t)
{
    PyObject **v = (PyObject **)t;
    for (int i = 0; i < 8; i++)
        v[i] = Py_NewRef(ZERO);
}

static void
sums_clear(Sums *t)
{
    PyObject **v = (PyObject **)t;
    for (int i = 0; i < 8; i++)
        Py_CLEAR(v[i]);
}

static inline int
str2(PyObject *o, char a, char b)
{
    return PyUnicode_Check(o) && PyUnicode_GET_LENGTH(o) == 2 && PyUnicode_KIND(o) == PyUnicode_1BYTE_KIND &&
           PyUnicode_1BYTE_DATA(o)[0] == (Py_UCS1)a && PyUnicode_1BYTE_DATA(o)[1] == (Py_UCS1)b;
}

static inline int
str1(PyObject *o, char a)
{
    return PyUnicode_Check(o) && PyUnicode_GET_LENGTH(o) == 1 && PyUnicode_KIND(o) == PyUnicode_1BYTE_KIND &&
           PyUnicode_1BYTE_DATA(o)[0] == (Py_UCS1)a;
}

/* the breakdown loop of build_eob: for g, r, a, _q in adjustments. The rule (group/reason -> bucket) is
 * eob/cas.py RULES, the one Python definition; these branches repeat it for speed, and
 * tests/unit/parsers/test_native.py fails if they ever differ from eob.cas.sums. */
static int
sum_adjustments(PyObject *adjs, Sums *t)
{
    PyObject *it = PyObject_GetIter(adjs);
    if (it == NULL)
        return -1;
    PyObject *adj;
    while ((adj = PyIter_Next(it)) != NULL) {
        if (!PyTuple_Check(adj) || PyTuple_GET_SIZE(adj) != 4) {
            Py_DECREF(adj);
            Py_DECREF(it);
            PyErr_SetString(PyExc_TypeError, "adjustments must be (group, reason, amount, quantity)");
            return -1;
        }
        PyObject *g = PyTuple_GET_ITEM(adj, 0), *r = PyTuple_GET_ITEM(adj, 1), *a = PyTuple_GET_ITEM(adj, 2);
        PyObject **acc;
        if (str2(g, 'C', 'O'))
            acc = &t->co;
        else if (str2(g, 'P', 'R'))
            acc = str1(r, '1') ? &t->ded : str1(r, '2') ? &t->coi : str1(r, '3') ? &t->cop : &t->oth;
        else if (str2(g, 'O', 'A'))
            acc = &t->oa;
        else if (str2(g, 'P', 'I'))
            acc = &t->pi;
        else
            acc = &t->cr;
        int rc = add_to(acc, a);
        Py_DECREF(adj);
        if (rc < 0) {
            Py_DECREF(it);
            return -1;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

/* total += line_sum, skipping the additions that cannot change anything.
 *
 * Exact, not approximate: every accumulator starts as the ZERO object (Decimal 0, exponent 0) and only
 * grows by additions, so its exponent is <= 0 and it is never -0 (0 + -0 is +0). Hence acc + ZERO is
 * acc digit for digit, and ZERO + s (s an accumulator that was added to) is s. */
static int
merge(PyObject **total, PyObject *line_sum)
{
    if (line_sum == ZERO)
        return 0;
    if (*total == ZERO) {
        Py_SETREF(*total, Py_NewRef(line_sum));
        return 0;
    }
    return add_to(total, line_sum);
}

/* ded + coi + cop + oth, left to right as Python evaluates it (0 + 0 + 0 + 0 is Decimal 0 = ZERO) */
static PyObject *
pr_sum(Sums *t)
{
    if (t->ded == ZERO && t->coi == ZERO && t->cop == ZERO && t->oth == ZERO)
        return Py_NewRef(ZERO);
    PyObject *x = PyNumber_Add(t->ded, t->coi);
    if (x == NULL)
        return NULL;
    if (add_to(&x, t->cop) < 0 || add_to(&x, t->oth) < 0) {
        Py_DECREF(x);
        return NULL;
    }
    return x;
}

static PyObject *
item(PyObject *tup, Py_ssize_t i)
{
    return Py_NewRef(PyTuple_GET_ITEM(tup, i));
}

static PyObject *
build_eob(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (!configured_eob) {
        PyErr_SetString(PyExc_RuntimeError, "claimflow_speedups: configure_eob() first");
        return NULL;
    }
    if (nargs != 2 || !PyTuple_Check(args[0]) || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "build_eob(remittance, claim)");
        return NULL;
    }
    PyObject *remit = args[0], *claim = args[1];
    if (PyTuple_GET_SIZE(claim) <= CP_LINES || PyTuple_GET_SIZE(remit) <= RM_PAYDATE) {
        PyErr_SetString(PyExc_TypeError, "build_eob: not a Remittance / ClaimPayment");
        return NULL;
    }
    Sums tot;
    sums_init(&tot);
    PyObject *lines = NULL, *it = NULL, *ln = NULL, *result = NULL;
    if (sum_adjustments(PyTuple_GET_ITEM(claim, CP_ADJ), &tot) < 0)
        goto done;
    lines = PyList_New(0);
    it = lines ? PyObject_GetIter(PyTuple_GET_ITEM(claim, CP_LINES)) : NULL;
    if (it == NULL)
        goto done;
    while ((ln = PyIter_Next(it)) != NULL) {
        if (!PyTuple_Check(ln) || PyTuple_GET_SIZE(ln) < 20) {
            PyErr_SetString(PyExc_TypeError, "build_eob: not a ServiceLine");
            goto done;
        }
        PyObject *adjs = PyTuple_GET_ITEM(ln, 18);
        Sums ls;
        sums_init(&ls);
        if (sum_adjustments(adjs, &ls) < 0) {
            sums_clear(&ls);
            goto done;
        }
        int nonempty = PyObject_IsTrue(adjs);
        if (nonempty < 0) {
            sums_clear(&ls);
            goto done;
        }
        if (nonempty) {
            PyObject **lv = (PyObject **)&ls, **tv = (PyObject **)&tot;
            for (int i = 0; i < 8; i++) {
                if (merge(&tv[i], lv[i]) < 0) {
                    sums_clear(&ls);
                    goto done;
                }
            }
        }
        PyObject *sfrom = PyTuple_GET_ITEM(ln, 13), *sto = sfrom;
        if (sfrom == Py_None) {
            sfrom = PyTuple_GET_ITEM(ln, 14);
            sto = PyTuple_GET_ITEM(ln, 15);
        }
        /* EOBLine field order (eob.records.EOBLine) */
        PyObject *f[23] = {
            item(ln, 0), item(ln, 16), item(ln, 1), item(ln, 2), item(ln, 3), item(ln, 7),
            Py_NewRef(sfrom), Py_NewRef(sto), item(ln, 8), item(ln, 5), item(ln, 17), item(ln, 6),
            pr_sum(&ls), Py_NewRef(ls.ded), Py_NewRef(ls.coi), Py_NewRef(ls.cop), Py_NewRef(ls.oth),
            Py_NewRef(ls.co), Py_NewRef(ls.oa), Py_NewRef(ls.pi), Py_NewRef(ls.cr), Py_NewRef(adjs),
            item(ln, 19),
        };
        sums_clear(&ls);
        PyObject *rec = make_record_n(EOBLineT, 23, f);
        if (rec == NULL || PyList_Append(lines, rec) < 0) {
            Py_XDECREF(rec);
            goto done;
        }
        Py_DECREF(rec);
        Py_CLEAR(ln);
    }
    if (PyErr_Occurred())
        goto done;
    PyObject *pr = PyTuple_GET_ITEM(claim, CP_PR);
    PyObject *remarks;
    if (PyTuple_GET_ITEM(claim, CP_INPATIENT) != Py_None || PyTuple_GET_ITEM(claim, CP_OUTPATIENT) != Py_None) {
        remarks = PyObject_GetAttr(claim, str_remark_codes);
        if (remarks == NULL)
            goto done;
    }
    else
        remarks = PyTuple_New(0);
    PyObject *status = PyTuple_GET_ITEM(claim, CP_STATUS);
    int reversal = PyObject_RichCompareBool(status, str_22, Py_EQ);
    if (reversal < 0) {
        Py_XDECREF(remarks);
        goto done;
    }
    /* EOB field order (eob.records.EOB) */
    PyObject *f[38] = {
        item(claim, 0), item(claim, 1), item(claim, 2), item(claim, 3), item(claim, 4),
        item(remit, RM_PAYER_NAME), item(remit, RM_PAYER_ID), item(remit, RM_PAYEE_NAME),
        item(remit, RM_PAYEE_ID), item(remit, RM_TRACE), item(remit, RM_METHOD), item(remit, RM_HANDLING),
        item(remit, RM_PAYDATE), item(claim, CP_PCN), item(claim, CP_PAYER_CCN), item(claim, CP_ORIGREF),
        Py_NewRef(status),
        PyBool_FromLong(reversal), item(claim, CP_FILING), item(claim, CP_FACILITY), item(claim, CP_FREQ),
        item(claim, CP_SFROM), item(claim, CP_STO), item(claim, CP_CHARGE), item(claim, CP_PAID),
        Py_NewRef(pr != Py_None ? pr : ZERO), pr_sum(&tot), Py_NewRef(tot.ded), Py_NewRef(tot.coi),
        Py_NewRef(tot.cop), Py_NewRef(tot.oth), Py_NewRef(tot.co), Py_NewRef(tot.oa), Py_NewRef(tot.pi),
        Py_NewRef(tot.cr), item(claim, CP_ADJ), remarks, PyList_AsTuple(lines),
    };
    result = make_record_n(EOBT, 38, f);
done:
    Py_XDECREF(ln);
    Py_XDECREF(it);
    Py_XDECREF(lines);
    sums_clear(&tot);
    return result;
}

static PyMethodDef methods[] = {
    {"configure_835", configure_835, METH_VARARGS, "Record types, caches and list positions of the 835 parser."},
    {"configure_eob", configure_eob, METH_VARARGS, "Record types and positions of the EOB builder."},
    {"scan835", (PyCFunction)(void (*)(void))scan835, METH_FASTCALL,
     "scan835(segs, k, sep, comp, st, ctx) -> index of the first segment left to the Python parser."},
    {"build_eob", (PyCFunction)(void (*)(void))build_eob, METH_FASTCALL,
     "build_eob(remittance, claim) -> EOB, exactly as eob.records.build_eob_python."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "claimflow_speedups",
    "C accelerator for claimflow's 835 parser hot loop and EOB builder (happy path only).", -1, methods,
};

PyMODINIT_FUNC
PyInit_claimflow_speedups(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL)
        return NULL;
    str_remark_codes = PyUnicode_InternFromString("remark_codes");
    str_22 = PyUnicode_InternFromString("22");
    if (str_remark_codes == NULL || str_22 == NULL)
        return NULL;
    return PyModule_Create(&module);
}
