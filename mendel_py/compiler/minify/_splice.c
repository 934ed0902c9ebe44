/* The minifier's per-gap work in C: an optional accelerator of mendel_py.compiler.minify.js
 * (`_splice_py` there is the same function in Python, what runs when this module could not be
 * built; tests run both on the same sources and require the same results).
 *
 * A module has a few hundred gaps (runs of whitespace and comments) and each becomes one edit of
 * its `original`, so finding them, writing the output between them and counting the compact
 * form's numbers took about half of the minifier's time as Python loops; here it is one pass over
 * the bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

typedef struct {
    char *data;
    Py_ssize_t size;
    Py_ssize_t capacity;
} Buffer;

static int buffer_add(Buffer *buffer, const char *bytes, Py_ssize_t count)
{
    if (count <= 0)
        return 0;
    if (buffer->size + count > buffer->capacity) {
        Py_ssize_t capacity = buffer->capacity ? buffer->capacity : 4096;
        while (capacity < buffer->size + count)
            capacity *= 2;
        char *data = PyMem_Realloc(buffer->data, (size_t)capacity);
        if (data == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        buffer->data = data;
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->size, bytes, (size_t)count);
    buffer->size += count;
    return 0;
}

/* Code points in UTF-8 `bytes`: the bytes that are not continuation bytes. */
static Py_ssize_t code_points(const unsigned char *bytes, Py_ssize_t count)
{
    Py_ssize_t points = 0;
    for (Py_ssize_t index = 0; index < count; index++)
        points += (bytes[index] & 0xC0) != 0x80;
    return points;
}

static int is_space(unsigned char byte)
{
    return byte == ' ' || byte == '\t' || byte == '\n' || byte == '\r' || byte == 0x0b || byte == 0x0c;
}

/* The state of one splice: the output so far and the compact form's numbers and texts. */
typedef struct {
    const unsigned char *data;
    Py_ssize_t position;  /* in data: what is copied to the output up to here */
    Py_ssize_t written;   /* code points of the output so far */
    Py_ssize_t previous;  /* where the previous edit's text ends in the output (code points) */
    Buffer output;
    Buffer texts;
    Buffer numbers;  /* Py_ssize_t each: gap, width, length per edit */
} Splice;

static int add_numbers(Buffer *numbers, Py_ssize_t gap, Py_ssize_t width, Py_ssize_t length)
{
    Py_ssize_t three[3] = {gap, width, length};
    return buffer_add(numbers, (const char *)three, (Py_ssize_t)sizeof(three));
}

/* The numbers as the compact form packs them: unsigned little-endian, of 2 bytes each, or 4 when
   one is 65536 or more (`original.py`). */
static PyObject *packed(const Buffer *numbers, int *width)
{
    const Py_ssize_t *items = (const Py_ssize_t *)numbers->data;
    Py_ssize_t count = numbers->size / (Py_ssize_t)sizeof(Py_ssize_t);
    *width = 2;
    for (Py_ssize_t index = 0; index < count; index++) {
        if (items[index] < 0 || items[index] > 0xFFFFFFFFLL) {
            PyErr_SetString(PyExc_OverflowError, "an edit's number does not fit 4 bytes");
            return NULL;
        }
        if (items[index] > 0xFFFF)
            *width = 4;
    }
    PyObject *result = PyBytes_FromStringAndSize(NULL, count * *width);
    if (result == NULL)
        return NULL;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    for (Py_ssize_t index = 0; index < count; index++) {
        size_t value = (size_t)items[index];
        for (int byte = 0; byte < *width; byte++)
            *out++ = (unsigned char)(value >> (8 * byte));
    }
    return result;
}

/* data[start:end] becomes `text` (`size` bytes, `points` code points). */
static int edit(Splice *splice, Py_ssize_t start, Py_ssize_t end, const char *text, Py_ssize_t size, Py_ssize_t points)
{
    if (start < splice->position || end < start) {
        PyErr_SetString(PyExc_ValueError, "edits must be sorted and must not overlap");
        return -1;
    }
    const unsigned char *data = splice->data;
    Py_ssize_t kept = start - splice->position;
    if (buffer_add(&splice->output, (const char *)data + splice->position, kept) < 0)
        return -1;
    splice->written += code_points(data + splice->position, kept);
    Py_ssize_t at = splice->written;
    if (add_numbers(&splice->numbers, at - splice->previous, points, code_points(data + start, end - start)) < 0)
        return -1;
    if (buffer_add(&splice->texts, (const char *)data + start, end - start) < 0
        || buffer_add(&splice->output, text, size) < 0)
        return -1;
    splice->written += points;
    splice->previous = splice->written;
    splice->position = end;
    return 0;
}

static int span_of(PyObject *item, Py_ssize_t length, Py_ssize_t *start, Py_ssize_t *end)
{
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) < 2) {
        PyErr_SetString(PyExc_TypeError, "spans must be tuples (start, end, ...)");
        return -1;
    }
    *start = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 0));
    *end = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 1));
    if (PyErr_Occurred())
        return -1;
    if (*start < 0 || *end < *start || *end > length) {
        PyErr_SetString(PyExc_ValueError, "span outside the source");
        return -1;
    }
    return 0;
}

/* Every token edit (tokens[index:], sorted) that starts before `before`. */
static int flush_tokens(Splice *splice, PyObject *tokens, Py_ssize_t *index, Py_ssize_t before, Py_ssize_t length)
{
    Py_ssize_t count = PyList_GET_SIZE(tokens);
    while (*index < count) {
        PyObject *item = PyList_GET_ITEM(tokens, *index);
        Py_ssize_t start, end;
        if (span_of(item, length, &start, &end) < 0)
            return -1;
        if (start >= before)
            return 0;
        PyObject *text = PyTuple_GET_SIZE(item) == 3 ? PyTuple_GET_ITEM(item, 2) : NULL;
        if (text == NULL || !PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "tokens must be (start, end, text) tuples");
            return -1;
        }
        Py_ssize_t size;
        const char *bytes = PyUnicode_AsUTF8AndSize(text, &size);
        if (bytes == NULL || edit(splice, start, end, bytes, size, PyUnicode_GET_LENGTH(text)) < 0)
            return -1;
        (*index)++;
    }
    return 0;
}

static const char NO_SEMICOLON_BEFORE[] = "};)],.?:=";
static const char NO_SEMICOLON_AFTER[] = "{;,([=:?&|";

static int in_set(const char *set, unsigned char byte)
{
    return memchr(set, byte, strlen(set)) != NULL;
}

static PyObject *splice(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer source, join;
    PyObject *protected, *removed, *tokens, *statement_ends;
    if (!PyArg_ParseTuple(args, "y*O!O!O!y*O", &source, &PyList_Type, &protected, &PyList_Type, &removed,
                          &PyList_Type, &tokens, &join, &statement_ends))
        return NULL;
    PyObject *result = NULL;
    unsigned char *masked = NULL;
    Splice state = {source.buf, 0, 0, 0, {NULL, 0, 0}, {NULL, 0, 0}, {NULL, 0, 0}};
    const unsigned char *data = source.buf;
    const unsigned char *joins = join.buf;
    Py_ssize_t length = source.len;
    if (join.len != 65536) {
        PyErr_SetString(PyExc_ValueError, "join must be a table of 65536 bytes");
        goto done;
    }
    masked = PyMem_Malloc((size_t)(length ? length : 1));
    if (masked == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(masked, data, (size_t)length);
    /* strings, regexes and template text are copied as they are: masked as a word */
    for (Py_ssize_t index = 0; index < PyList_GET_SIZE(protected); index++) {
        Py_ssize_t start, end;
        if (span_of(PyList_GET_ITEM(protected, index), length, &start, &end) < 0)
            goto done;
        memset(masked + start, 'x', (size_t)(end - start));
    }
    /* removed comments are blanked, as line breaks when they hold one (for ASI) */
    for (Py_ssize_t index = 0; index < PyList_GET_SIZE(removed); index++) {
        Py_ssize_t start, end;
        if (span_of(PyList_GET_ITEM(removed, index), length, &start, &end) < 0)
            goto done;
        int breaks = memchr(data + start, '\n', (size_t)(end - start)) != NULL
                     || memchr(data + start, '\r', (size_t)(end - start)) != NULL;
        memset(masked + start, breaks ? '\n' : ' ', (size_t)(end - start));
    }
    Py_ssize_t token = 0;
    Py_ssize_t position = 0;
    while (position < length) {
        if (!is_space(masked[position])) {
            position++;
            continue;
        }
        Py_ssize_t start = position;
        while (position < length && is_space(masked[position]))
            position++;
        Py_ssize_t end = position;
        const char *text = "";
        if (start > 0 && end < length) {
            unsigned char before = data[start - 1], after = data[end];
            int joined = joins[before * 256 + after];
            if (end - start == 1 && masked[start] == ' ') {  /* a lone space, the commonest gap */
                if (joined)
                    continue;
            } else {
                int semicolon = 0;
                if (!in_set(NO_SEMICOLON_BEFORE, after) && !in_set(NO_SEMICOLON_AFTER, before)
                    && (memchr(masked + start, '\n', (size_t)(end - start)) != NULL
                        || memchr(masked + start, '\r', (size_t)(end - start)) != NULL)) {
                    PyObject *ends = PyObject_CallFunction(statement_ends, "n", start);
                    if (ends == NULL)
                        goto done;
                    semicolon = PyObject_IsTrue(ends);
                    Py_DECREF(ends);
                    if (semicolon < 0)
                        goto done;
                }
                if (semicolon)
                    text = ";";
                else if (joined) {
                    if (end - start == 1 && data[start] == ' ')
                        continue;
                    text = " ";
                }
            }
        }
        if (flush_tokens(&state, tokens, &token, start, length) < 0
            || edit(&state, start, end, text, (Py_ssize_t)strlen(text), (Py_ssize_t)strlen(text)) < 0)
            goto done;
    }
    if (flush_tokens(&state, tokens, &token, length + 1, length) < 0)
        goto done;
    if (buffer_add(&state.output, (const char *)data + state.position, length - state.position) < 0)
        goto done;
    int width = 2;
    PyObject *numbers = packed(&state.numbers, &width);
    PyObject *output = numbers ? PyUnicode_DecodeUTF8(state.output.data ? state.output.data : "", state.output.size,
                                                      "strict") : NULL;
    PyObject *texts = output ? PyUnicode_DecodeUTF8(state.texts.data ? state.texts.data : "", state.texts.size,
                                                    "strict") : NULL;
    if (texts != NULL)
        result = Py_BuildValue("(OiOO)", output, width, numbers, texts);
    Py_XDECREF(numbers);
    Py_XDECREF(output);
    Py_XDECREF(texts);
done:
    PyMem_Free(state.numbers.data);
    PyMem_Free(state.output.data);
    PyMem_Free(state.texts.data);
    PyMem_Free(masked);
    PyBuffer_Release(&source);
    PyBuffer_Release(&join);
    return result;
}

static PyMethodDef methods[] = {
    {"splice", splice, METH_VARARGS,
     "splice(data, protected, removed, tokens, join, statement_ends) -> (output, width, numbers, texts)\n\n"
     "mendel_py.compiler.minify.js._splice_py in C: the gaps of `data` (UTF-8) outside the\n"
     "`protected` spans, with the `removed` comment spans blanked, edited as the minifier does\n"
     "(`join`: the 64 KiB table of byte pairs that need a space; `statement_ends(offset)` says\n"
     "where a `;` replaces a line break), merged with the sorted `tokens` edits (start, end,\n"
     "text); returns the output and the reversed edits' compact numbers (gap, width, length per\n"
     "edit, code points; packed as `width`-byte unsigned little-endian integers) and texts."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef definition = {
    PyModuleDef_HEAD_INIT, "mendel_py.compiler.minify._splice",
    "Optional C accelerator of the minifier's gaps (mendel_py.compiler.minify.js).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__splice(void)
{
    return PyModule_Create(&definition);
}
