/* The walk in C: an optional accelerator of mendel_py.walk (`_walk_order`, the plan made of it,
 * and the digest input of a walk).
 *
 * walk.py holds the semantics, in Python, and is what runs when this module could not be built;
 * tests run both on the same graphs and require the same results. A cold resolve on a 30,000-module
 * manifest is one depth-first pass over ~110,000 edges, ~9 ms as a Python loop and well under 1 ms
 * here, which is the difference between a cheap and an expensive first request for a new
 * variation set.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

typedef struct {
    Py_ssize_t *items;
    Py_ssize_t size;
    Py_ssize_t capacity;
} Stack;

static int stack_reserve(Stack *stack, Py_ssize_t extra)
{
    Py_ssize_t needed = stack->size + extra;
    if (needed <= stack->capacity)
        return 0;
    Py_ssize_t capacity = stack->capacity ? stack->capacity : 1024;
    while (capacity < needed)
        capacity *= 2;
    Py_ssize_t *items = PyMem_Realloc(stack->items, (size_t)capacity * sizeof(Py_ssize_t));
    if (items == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    stack->items = items;
    stack->capacity = capacity;
    return 0;
}

/* The fixed successors of every module, all in one int array: module m's are
   targets[offsets[m]:offsets[m + 1]] (read in a walk's inner loop, so kept compact). */
typedef struct {
    const int *offsets;
    const int *targets;
    Py_ssize_t edges;
} Graph;

static int push_target(Stack *stack, Py_ssize_t m, Py_ssize_t target, Py_ssize_t count)
{
    if (target < 0 || target >= count) {
        PyErr_Format(PyExc_IndexError, "module %zd names module %zd of %zd", m, target, count);
        return -1;
    }
    stack->items[stack->size++] = target;
    return 0;
}

/* Push the successors of `m` onto the stack, last first: children[m] (a tuple of module indices)
   where the walk set one, else the graph's. */
static int push_children(Stack *stack, const Graph *graph, PyObject *children, Py_ssize_t m, Py_ssize_t count)
{
    PyObject *successors = PyList_GET_ITEM(children, m);
    if (successors == Py_None) {
        int start = graph->offsets[m], end = graph->offsets[m + 1];
        if (start < 0 || end < start || end > graph->edges) {
            PyErr_Format(PyExc_ValueError, "offsets of module %zd are out of range", m);
            return -1;
        }
        if (stack_reserve(stack, end - start) < 0)
            return -1;
        for (int k = end - 1; k >= start; k--)
            if (push_target(stack, m, graph->targets[k], count) < 0)
                return -1;
        return 0;
    }
    if (!PyTuple_Check(successors)) {
        PyErr_Format(PyExc_TypeError, "children[%zd] must be a tuple or None", m);
        return -1;
    }
    Py_ssize_t size = PyTuple_GET_SIZE(successors);
    if (stack_reserve(stack, size) < 0)
        return -1;
    for (Py_ssize_t k = size - 1; k >= 0; k--) {
        Py_ssize_t target = PyLong_AsSsize_t(PyTuple_GET_ITEM(successors, k));
        if (target == -1 && PyErr_Occurred())
            return -1;
        if (push_target(stack, m, target, count) < 0)
            return -1;
    }
    return 0;
}

/* What a walk appends to and calls: the order so far, and the branch-point callback. */
typedef struct {
    Py_ssize_t *order;
    Py_ssize_t length;
    const char *is_branch;
    PyObject *on_branch; /* None, or called as described in walk_plan's docstring */
    const char *call_at; /* NULL: on_branch(m) at every branch point; else on_branch(m, position)
                            only where call_at[m] */
    Py_ssize_t branches_seen;
    PyObject *numbers;
} Visitor;

/* Append m to the order; at a branch point, call on_branch first thing (it may set children[m]). */
static int visit(Visitor *visitor, Py_ssize_t m)
{
    visitor->order[visitor->length++] = m;
    if (!visitor->is_branch[m])
        return 0;
    Py_ssize_t position = visitor->branches_seen++;
    if (visitor->on_branch == Py_None)
        return 0;
    PyObject *result;
    if (visitor->call_at == NULL) {
        result = PyObject_CallOneArg(visitor->on_branch, PyTuple_GET_ITEM(visitor->numbers, m));
    } else if (visitor->call_at[m]) {
        result = PyObject_CallFunction(visitor->on_branch, "nn", m, position);
    } else {
        return 0;
    }
    if (result == NULL)
        return -1;
    Py_DECREF(result);
    return 0;
}

/* A tuple of the numbers of `items` (module indices), sharing the int objects of `numbers`. */
static PyObject *number_tuple(const Py_ssize_t *items, Py_ssize_t length, PyObject *numbers)
{
    PyObject *tuple = PyTuple_New(length);
    if (tuple == NULL)
        return NULL;
    for (Py_ssize_t k = 0; k < length; k++) {
        PyObject *number = PyTuple_GET_ITEM(numbers, items[k]);
        Py_INCREF(number);
        PyTuple_SET_ITEM(tuple, k, number);
    }
    return tuple;
}

/* (order, index order, branch points in walk order, their positions in it): walk.Plan's fields. */
static PyObject *plan_tuples(const Py_ssize_t *order, Py_ssize_t length, const char *resolved,
                             Py_ssize_t count, const char *is_branch, PyObject *numbers)
{
    PyObject *result = NULL, *fields[4] = {NULL, NULL, NULL, NULL};
    Py_ssize_t *scratch = PyMem_Malloc((size_t)(2 * length + 1) * sizeof(Py_ssize_t));
    if (scratch == NULL)
        return PyErr_NoMemory();
    Py_ssize_t walked = 0, branches = 0;
    for (Py_ssize_t m = 0; m < count; m++)
        if (resolved[m])
            scratch[walked++] = m;
    if ((fields[0] = number_tuple(order, length, numbers)) == NULL)
        goto done;
    if ((fields[1] = number_tuple(scratch, walked, numbers)) == NULL)
        goto done;
    Py_ssize_t *positions = scratch + length;
    for (Py_ssize_t k = 0; k < length; k++)
        if (is_branch[order[k]]) {
            scratch[branches] = order[k];
            positions[branches++] = k;
        }
    if ((fields[2] = number_tuple(scratch, branches, numbers)) == NULL)
        goto done;
    /* positions are < length <= count: numbers holds them too */
    if ((fields[3] = number_tuple(positions, branches, numbers)) == NULL)
        goto done;
    result = PyTuple_Pack(4, fields[0], fields[1], fields[2], fields[3]);
done:
    for (int k = 0; k < 4; k++)
        Py_XDECREF(fields[k]);
    PyMem_Free(scratch);
    return result;
}

static PyObject *walk_plan(PyObject *module, PyObject *args)
{
    PyObject *roots, *children, *numbers, *on_branch, *call_at_obj = Py_None;
    Py_buffer branch_flags, offsets, targets, call_flags = {0};
    if (!PyArg_ParseTuple(args, "O!y*y*O!O!y*O|O", &PyTuple_Type, &roots, &offsets, &targets, &PyList_Type,
                          &children, &PyTuple_Type, &numbers, &branch_flags, &on_branch, &call_at_obj))
        return NULL;
    Py_ssize_t count = PyList_GET_SIZE(children);
    Graph graph = {offsets.buf, targets.buf, targets.len / (Py_ssize_t)sizeof(int)};
    PyObject *resolved_obj = NULL, *result = NULL;
    Py_ssize_t *order = NULL;
    Stack stack = {NULL, 0, 0};
    if (call_at_obj != Py_None && PyObject_GetBuffer(call_at_obj, &call_flags, PyBUF_SIMPLE) < 0)
        goto done;
    if (PyTuple_GET_SIZE(numbers) != count || branch_flags.len != count
        || (call_flags.buf != NULL && call_flags.len != count)
        || offsets.len != (count + 1) * (Py_ssize_t)sizeof(int)) {
        PyErr_SetString(PyExc_ValueError,
                        "children, numbers and is_branch need one item per module, offsets one more");
        goto done;
    }
    const char *is_branch = branch_flags.buf;
    resolved_obj = PyByteArray_FromStringAndSize(NULL, count);
    order = PyMem_Malloc((size_t)(count ? count : 1) * sizeof(Py_ssize_t));
    if (resolved_obj == NULL || order == NULL) {
        if (order == NULL)
            PyErr_NoMemory();
        goto done;
    }
    char *resolved = PyByteArray_AS_STRING(resolved_obj);
    memset(resolved, 0, (size_t)count);
    Visitor visitor = {order, 0, is_branch, on_branch, call_flags.buf, 0, numbers};

    for (Py_ssize_t r = 0; r < PyTuple_GET_SIZE(roots); r++) {
        Py_ssize_t root = PyLong_AsSsize_t(PyTuple_GET_ITEM(roots, r));
        if (root == -1 && PyErr_Occurred())
            goto done;
        if (root < 0 || root >= count) {
            PyErr_Format(PyExc_IndexError, "root %zd is not a module", root);
            goto done;
        }
        if (resolved[root])
            continue;
        /* the root stays unflagged until it comes up again: that once, its dependencies are
           walked again (mendel-core's fresh visited set per root) */
        if (visit(&visitor, root) < 0)
            goto done;
        stack.size = 0;
        if (push_children(&stack, &graph, children, root, count) < 0)
            goto done;
        while (stack.size) {
            Py_ssize_t m = stack.items[--stack.size];
            if (resolved[m])
                continue;
            resolved[m] = 1;
            if (m != root && visit(&visitor, m) < 0)
                goto done;
            if (push_children(&stack, &graph, children, m, count) < 0)
                goto done;
        }
        resolved[root] = 1;
    }

    result = plan_tuples(order, visitor.length, resolved, count, is_branch, numbers);

done:
    PyBuffer_Release(&branch_flags);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&targets);
    if (call_flags.buf != NULL)
        PyBuffer_Release(&call_flags);
    PyMem_Free(stack.items);
    PyMem_Free(order);
    Py_XDECREF(resolved_obj);
    return result;
}

/* join_digests(first, order, chosen) -> bytes: the per-file digests of a walk, concatenated:
   first[m] for each module m of `order`, except at the walk positions that `chosen` lists as
   (position, digest) pairs. One allocation and a memcpy per file. */
static PyObject *join_digests(PyObject *module, PyObject *args)
{
    PyObject *first, *order, *chosen, *result = NULL;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyList_Type, &first, &PyTuple_Type, &order, &PyList_Type, &chosen))
        return NULL;
    Py_ssize_t length = PyTuple_GET_SIZE(order), count = PyList_GET_SIZE(first), total = 0;
    PyObject **pieces = PyMem_Malloc((size_t)(length ? length : 1) * sizeof(PyObject *));
    if (pieces == NULL)
        return PyErr_NoMemory();
    for (Py_ssize_t k = 0; k < length; k++) {
        Py_ssize_t m = PyLong_AsSsize_t(PyTuple_GET_ITEM(order, k));
        if (m == -1 && PyErr_Occurred())
            goto done;
        if (m < 0 || m >= count) {
            PyErr_Format(PyExc_IndexError, "order names module %zd of %zd", m, count);
            goto done;
        }
        pieces[k] = PyList_GET_ITEM(first, m);
    }
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(chosen); k++) {
        PyObject *pair = PyList_GET_ITEM(chosen, k);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "chosen holds (position, digest) pairs");
            goto done;
        }
        Py_ssize_t position = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 0));
        if (position == -1 && PyErr_Occurred())
            goto done;
        if (position < 0 || position >= length) {
            PyErr_Format(PyExc_IndexError, "position %zd is not in the walk", position);
            goto done;
        }
        pieces[position] = PyTuple_GET_ITEM(pair, 1);
    }
    for (Py_ssize_t k = 0; k < length; k++) {
        if (!PyBytes_Check(pieces[k])) {
            PyErr_SetString(PyExc_TypeError, "digests must be bytes");
            goto done;
        }
        total += PyBytes_GET_SIZE(pieces[k]);
    }
    result = PyBytes_FromStringAndSize(NULL, total);
    if (result == NULL)
        goto done;
    char *out = PyBytes_AS_STRING(result);
    for (Py_ssize_t k = 0; k < length; k++) {
        Py_ssize_t size = PyBytes_GET_SIZE(pieces[k]);
        memcpy(out, PyBytes_AS_STRING(pieces[k]), (size_t)size);
        out += size;
    }
done:
    PyMem_Free(pieces);
    return result;
}

static PyMethodDef methods[] = {
    {"walk_plan", walk_plan, METH_VARARGS,
     "walk_plan(roots, offsets, targets, children, numbers, is_branch, on_branch)\n"
     "-> (order, index_order, branch_seq, branch_positions)\n\n"
     "mendel_py.walk._walk_order and the plan made of it, in C. Module m's successors are\n"
     "children[m] when that is a tuple, else (None) targets[offsets[m]:offsets[m + 1]] (arrays\n"
     "of C ints). `numbers` is tuple(range(len(children))) (its int objects make the tuples);\n"
     "`on_branch` is None or called with each branch point reached, first thing (it may set\n"
     "children[m]); with `call_at` (a flag per module), only where it is set, as\n"
     "on_branch(m, position), position counting every branch point reached before m."},
    {"join_digests", join_digests, METH_VARARGS,
     "join_digests(first, order, chosen) -> bytes\n\n"
     "b''.join of first[m] for m in order, with the digests of `chosen` ((position, digest)\n"
     "pairs) put in at those walk positions: mendel_py.walk's digest input, in C."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef definition = {
    PyModuleDef_HEAD_INIT, "mendel_py.core._speedups", "Optional C accelerators of mendel_py.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void)
{
    return PyModule_Create(&definition);
}
