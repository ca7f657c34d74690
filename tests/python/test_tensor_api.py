"""The Tensor type's Python API: construction, properties, NumPy interchange (asnumpy, __array__,
from_numpy, buffer protocol, DLPack), scalar conversions, len/iteration, pickling and hashing.

Reference semantics: MindSpore's Tensor for construction and dtypes, NumPy for everything array-like.
"""
import gc
import pickle
import subprocess
import sys
import textwrap
import weakref

import numpy as np
import pytest

import dynastat as ms
from dynastat import Tensor

# dtype objects and their NumPy counterparts (bfloat16 has none)
NP_OF = {
    ms.bool_: np.bool_,
    ms.int8: np.int8,
    ms.uint8: np.uint8,
    ms.int16: np.int16,
    ms.int32: np.int32,
    ms.int64: np.int64,
    ms.float16: np.float16,
    ms.float32: np.float32,
    ms.float64: np.float64,
}
NP_DTYPES = list(NP_OF.values())
ALL_DTYPES = list(NP_OF) + [ms.bfloat16]


def sample(np_dtype, shape=(2, 3)):
    """A small array of np_dtype with distinct, exactly representable values."""
    n = int(np.prod(shape))
    if np_dtype == np.bool_:
        return (np.arange(n) % 3 == 0).reshape(shape)
    if np.issubdtype(np_dtype, np.floating):
        return (np.arange(n) * 0.5 - 1.0).astype(np_dtype).reshape(shape)
    return (np.arange(n) - (0 if np_dtype == np.uint8 else 2)).astype(np_dtype).reshape(shape)


def run_isolated(code):
    """Runs `code` in a fresh interpreter (for paths that might crash the process instead of raising).
    Returns (returncode, stdout, stderr)."""
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


# ============================================================================ construction
class TestConstruction:
    @pytest.mark.parametrize("np_dtype", NP_DTYPES, ids=lambda d: np.dtype(d).name)
    def test_from_ndarray_keeps_dtype_and_values(self, np_dtype):
        a = sample(np_dtype)
        t = Tensor(a)
        assert t.dtype == ms.common.dtype.pytype_to_dtype(np_dtype)
        assert t.shape == a.shape
        r = t.asnumpy()
        assert r.dtype == a.dtype
        np.testing.assert_array_equal(r, a)

    @pytest.mark.parametrize("np_dtype", NP_DTYPES, ids=lambda d: np.dtype(d).name)
    def test_from_ndarray_copies(self, np_dtype):
        a = sample(np_dtype)
        before = a.copy()
        t = Tensor(a)
        assert not np.shares_memory(t.asnumpy(), a)
        a[...] = a[0, 0] if np_dtype != np.bool_ else ~a
        np.testing.assert_array_equal(t.asnumpy(), before)

    def test_from_noncontiguous_and_negative_stride_ndarray(self):
        a = np.arange(24, dtype=np.float32).reshape(4, 6)
        for view in (a.T, a[::2, ::-3], a[:, 1], a[::-1], np.asfortranarray(a)):
            t = Tensor(view)
            assert t.shape == view.shape
            np.testing.assert_array_equal(t.asnumpy(), view)

    def test_from_non_native_byte_order(self):
        a = np.arange(6, dtype=">f4").reshape(2, 3)
        t = Tensor(a)
        np.testing.assert_array_equal(t.asnumpy(), a)
        assert t.asnumpy().dtype.kind == "f"

    @pytest.mark.parametrize(
        "data, dtype",
        [
            ([1.0, 2.5], ms.float32),
            ([[1.0, 2.0], [3.0, 4.0]], ms.float32),
            ([1, 2, 3], ms.int64),
            ([[1, 2], [3, 4]], ms.int64),
            ([True, False], ms.bool_),
            ([[True], [False]], ms.bool_),
            ([1, 2.5], ms.float32),  # mixed ints and floats: float32
            ((1.0, 2.0), ms.float32),  # tuples like lists
            ([(1, 2), (3, 4)], ms.int64),
            ((1, 2, 3), ms.int64),
            (((1, 2),), ms.int64),
            (((True, False), (False, False)), ms.bool_),
        ],
        ids=lambda x: repr(x).replace(" ", "") if not isinstance(x, ms.dtype) else x.name,
    )
    def test_from_nested_sequences(self, data, dtype):
        t = Tensor(data)
        assert t.dtype == dtype
        expect = np.array(data)
        assert t.shape == expect.shape
        np.testing.assert_array_equal(t.asnumpy(), expect.astype(NP_OF[dtype]))

    def test_from_list_of_numpy_scalars(self):
        t = Tensor([np.float32(1.5), np.float32(2.5)])
        assert t.dtype == ms.float32
        np.testing.assert_array_equal(t.asnumpy(), [1.5, 2.5])

    def test_from_list_of_tensors(self):
        t = Tensor([Tensor([1.0, 2.0]), Tensor([3.0, 4.0])])
        assert t.dtype == ms.float32 and t.shape == (2, 2)
        np.testing.assert_array_equal(t.asnumpy(), [[1.0, 2.0], [3.0, 4.0]])
        t = Tensor([Tensor(1), Tensor(2)])
        assert t.dtype == ms.int64 and t.tolist() == [1, 2]

    def test_from_empty_list(self):
        t = Tensor([])
        assert t.shape == (0,)
        assert t.size == 0
        assert t.asnumpy().shape == (0,)

    def test_ragged_list_raises(self):
        with pytest.raises((ValueError, TypeError)):
            Tensor([[1, 2], [3]])

    @pytest.mark.parametrize(
        "value, dtype, py",
        [(1.5, ms.float32, float), (3, ms.int64, int), (True, ms.bool_, bool), (False, ms.bool_, bool),
         (-7, ms.int64, int), (0.0, ms.float32, float)],
    )
    def test_from_python_scalar(self, value, dtype, py):
        t = Tensor(value)
        assert t.dtype == dtype
        assert t.shape == ()
        assert t.ndim == 0
        assert t.size == 1
        v = t.item()
        assert type(v) is py
        assert v == value

    def test_from_numpy_scalar_keeps_dtype(self):
        for s in (np.float64(1.25), np.int32(-3), np.float16(0.5), np.uint8(200), np.bool_(True)):
            t = Tensor(s)
            assert t.shape == ()
            assert t.asnumpy().dtype == s.dtype, s.dtype
            assert t.item() == s.item()

    def test_large_python_int(self):
        t = Tensor(2**62)
        assert t.dtype == ms.int64
        assert t.item() == 2**62
        with pytest.raises(OverflowError):
            Tensor(2**70)

    def test_complex_rejected(self):
        with pytest.raises(TypeError, match="complex"):
            Tensor(1 + 2j)
        with pytest.raises(TypeError):
            Tensor(np.array([1 + 2j]))

    def test_strings_and_objects_rejected(self):
        with pytest.raises(TypeError):
            Tensor("abc")
        with pytest.raises(TypeError):
            Tensor([object()])

    def test_from_tensor_copies(self):
        src = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
        t = Tensor(src)
        assert t is not src
        assert type(t) is Tensor
        assert t.dtype == src.dtype and t.shape == src.shape
        np.testing.assert_array_equal(t.asnumpy(), src.asnumpy())
        assert not t.shares_memory(src)
        src[0, 0] = 100.0
        assert t.asnumpy()[0, 0] == 0.0

    def test_from_tensor_view_copies(self):
        src = Tensor(np.arange(12, dtype=np.int32).reshape(3, 4))
        t = Tensor(src.T)
        np.testing.assert_array_equal(t.asnumpy(), np.arange(12).reshape(3, 4).T)
        assert not t.shares_memory(src)

    def test_from_tensor_with_dtype_casts(self):
        src = Tensor(np.array([1.5, -2.5, 3.0], dtype=np.float32))
        t = Tensor(src, dtype=ms.int32)
        assert t.dtype == ms.int32
        np.testing.assert_array_equal(t.asnumpy(), np.array([1.5, -2.5, 3.0], dtype=np.float32).astype(np.int32))
        assert src.dtype == ms.float32

    @pytest.mark.parametrize(
        "dtype_like, expect",
        [
            (ms.float16, ms.float16),
            (ms.float64, ms.float64),
            (ms.int8, ms.int8),
            (ms.bool_, ms.bool_),
            (ms.bfloat16, ms.bfloat16),
            ("float16", ms.float16),
            ("int32", ms.int32),
            ("uint8", ms.uint8),
            ("bool", ms.bool_),
            (np.float64, ms.float64),
            (np.int16, ms.int16),
            (np.bool_, ms.bool_),
            (np.dtype("float32"), ms.float32),
            (np.dtype("int64"), ms.int64),
            (float, ms.float32),
            (int, ms.int64),
            (bool, ms.bool_),
        ],
    )
    def test_dtype_argument(self, dtype_like, expect):
        t = Tensor([1, 0, 2], dtype=dtype_like)
        assert t.dtype == expect
        got = t.asnumpy()
        np.testing.assert_array_equal(got, np.array([1, 0, 2]).astype(NP_OF.get(expect, np.float32)))

    def test_dtype_argument_converts_values(self):
        t = Tensor([1.7, -1.7, 0.1], dtype=ms.float16)
        np.testing.assert_array_equal(t.asnumpy(), np.array([1.7, -1.7, 0.1], dtype=np.float16))
        t = Tensor(np.array([0.0, 2.0, -1.0]), dtype=ms.bool_)
        np.testing.assert_array_equal(t.asnumpy(), [False, True, True])
        t = Tensor(3.9, dtype=ms.int32)
        assert t.dtype == ms.int32 and t.item() == 3
        t = Tensor(True, ms.float32)  # dtype positionally
        assert t.dtype == ms.float32 and t.item() == 1.0

    @pytest.mark.parametrize("bad", ["float128", "complex64", "nope", np.complex64, object, 3.5])
    def test_bad_dtype_argument(self, bad):
        with pytest.raises(TypeError, match="not supported|dtype"):
            Tensor([1.0], dtype=bad)

    def test_nothing_given(self):
        with pytest.raises(ValueError, match="input_data"):
            Tensor()

    def test_data_and_shape_both_given(self):
        with pytest.raises(ValueError, match="not both"):
            Tensor([1.0], shape=(1,), dtype=ms.float32)

    def test_is_a_tensorbase_subclass(self):
        t = Tensor([1.0])
        assert isinstance(t, Tensor)
        assert isinstance(t, ms._C.TensorBase)

    def test_subclass_construction(self):
        class MyTensor(Tensor):
            pass

        t = MyTensor([1.0, 2.0])
        assert type(t) is MyTensor
        np.testing.assert_array_equal(t.asnumpy(), [1.0, 2.0])
        t.tag = "x"  # subclasses get an instance dict
        assert t.tag == "x"


# ============================================================================ declared tensors
class TestDeclared:
    def test_unknown_dims(self):
        t = Tensor(shape=[None, 3], dtype=ms.float32)
        assert t.shape == (None, 3)
        assert t.dtype == ms.float32
        assert t.ndim == 2

    def test_known_shape(self):
        t = Tensor(shape=(2, 3), dtype=ms.int32)
        assert t.shape == (2, 3)
        assert t.dtype == ms.int32

    def test_shape_as_int(self):
        t = Tensor(shape=4, dtype=ms.float32)
        assert t.shape == (4,)

    def test_needs_dtype(self):
        with pytest.raises(TypeError, match="dtype"):
            Tensor(shape=[None, 3])

    def test_bad_shape_entries(self):
        with pytest.raises(TypeError, match="shape"):
            Tensor(shape=[2, "a"], dtype=ms.float32)
        with pytest.raises(TypeError, match="shape"):
            Tensor(shape=[2.5], dtype=ms.float32)
        with pytest.raises(ValueError, match="at most"):
            Tensor(shape=[1] * 9, dtype=ms.float32)

    def test_repr_does_not_fail(self):
        t = Tensor(shape=[None, 3], dtype=ms.float32)
        r = repr(t)
        assert "Float32" in r
        str(t)

    @pytest.mark.parametrize("shape", [[None, 3], [2, 3]])
    @pytest.mark.parametrize(
        "use",
        [
            lambda t: t.asnumpy(),
            lambda t: np.asarray(t),
            lambda t: t.tolist(),
            lambda t: t.item(),
            lambda t: t[0],
            lambda t: t.__setitem__(0, 1.0),
            lambda t: t.astype(ms.float64),
            lambda t: float(t),
            lambda t: bool(t),
            lambda t: t.T,
            lambda t: t.contiguous(),
        ],
        ids=["asnumpy", "np.asarray", "tolist", "item", "getitem", "setitem", "astype", "float", "bool", "T",
             "contiguous"],
    )
    def test_using_data_raises_clearly(self, shape, use):
        t = Tensor(shape=shape, dtype=ms.float32)
        with pytest.raises((ValueError, BufferError, TypeError)) as ei:
            use(t)
        assert "declared" in str(ei.value)

    def test_memoryview_and_dlpack_raise(self):
        t = Tensor(shape=[None, 3], dtype=ms.float32)
        with pytest.raises(BufferError, match="declared"):
            memoryview(t)
        with pytest.raises(BufferError, match="declared"):
            t.__dlpack__()
        with pytest.raises(BufferError, match="declared"):
            np.from_dlpack(t)

    @pytest.mark.parametrize("expr", ["t + 1", "t * t", "-t", "t @ t", "t == 1", "t.sum()",
                                      "ms.ops.exp(t)", "t.reshape(-1)"])
    @pytest.mark.parametrize("shape", ["[None, 3]", "[2, 3]"])
    def test_ops_on_declared_raise_not_crash(self, expr, shape):
        # run in a subprocess: an op that reads a declared tensor's (absent) data would crash the process
        rc, out, err = run_isolated(f"""
            import dynastat as ms
            t = ms.Tensor(shape={shape}, dtype=ms.float32)
            try:
                {expr}
            except Exception as e:
                print("RAISED", type(e).__name__, e)
            else:
                print("NO ERROR")
        """)
        assert rc == 0, f"process died (rc={rc}): {err[-2000:]}"
        assert out.startswith("RAISED"), out
        assert "declared" in out or "unknown" in out, out

    def test_len_of_declared(self):
        assert len(Tensor(shape=[2, 3], dtype=ms.float32)) == 2
        with pytest.raises((TypeError, ValueError), match="unknown|declared"):
            len(Tensor(shape=[None, 3], dtype=ms.float32))

    def test_iterating_declared_with_unknown_dim(self):
        with pytest.raises((TypeError, ValueError), match="unknown|declared"):
            list(Tensor(shape=[None, 3], dtype=ms.float32))


# ============================================================================ properties
class TestProperties:
    @pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3), (2, 1, 4), (1, 2, 3, 2)])
    @pytest.mark.parametrize("np_dtype", [np.float32, np.int8, np.float64, np.bool_, np.float16],
                             ids=lambda d: np.dtype(d).name)
    def test_basic_properties(self, shape, np_dtype):
        a = np.zeros(shape, dtype=np_dtype)
        t = Tensor(a)
        assert t.shape == a.shape and isinstance(t.shape, tuple)
        assert all(type(d) is int for d in t.shape)
        assert t.ndim == a.ndim
        assert t.size == a.size
        assert t.itemsize == a.itemsize
        assert t.nbytes == a.nbytes
        assert t.dtype == ms.common.dtype.pytype_to_dtype(np_dtype)

    def test_bfloat16_properties(self):
        t = Tensor([1.0, 2.0, 3.0], dtype=ms.bfloat16)
        assert t.itemsize == 2
        assert t.nbytes == 6
        assert t.dtype == ms.bfloat16
        np.testing.assert_array_equal(t.asnumpy(), [1.0, 2.0, 3.0])

    def test_dtype_objects(self):
        assert ms.float32 == ms.float32
        assert ms.float32 != ms.float16
        assert ms.float32 == "float32"
        assert ms.float_ is ms.float32
        assert ms.int_ is ms.int64
        assert repr(ms.float32) == "Float32"
        assert repr(ms.bool_) == "Bool"
        assert ms.float16.itemsize == 2
        assert ms.int64.name == "int64"
        assert pickle.loads(pickle.dumps(ms.float16)) == ms.float16
        assert len({ms.float32, ms.float32, ms.int32}) == 2

    @pytest.mark.parametrize("shape", [(), (4,), (2, 3), (2, 3, 4)])
    def test_T(self, shape):
        a = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
        t = Tensor(a)
        tt = t.T
        assert isinstance(tt, Tensor)
        assert tt.shape == a.T.shape
        np.testing.assert_array_equal(tt.asnumpy(), a.T)

    def test_T_is_a_view(self):
        t = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
        tt = t.T
        assert tt.shares_memory(t)
        t[0, 1] = 42.0
        assert tt.asnumpy()[1, 0] == 42.0

    def test_properties_are_read_only(self):
        t = Tensor([1.0])
        with pytest.raises(AttributeError):
            t.shape = (2,)
        with pytest.raises(AttributeError):
            t.dtype = ms.int32

    def test_strides_in_bytes(self):
        a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
        t = Tensor(a)
        assert t.strides == a.strides
        assert t.T.strides == a.T.strides


# ============================================================================ asnumpy / NumPy interchange
class TestAsNumpy:
    @pytest.mark.parametrize("np_dtype", NP_DTYPES, ids=lambda d: np.dtype(d).name)
    def test_zero_copy_writes_visible_both_ways(self, np_dtype):
        t = Tensor(sample(np_dtype))
        a = t.asnumpy()
        assert a.dtype == np_dtype
        assert a.ctypes.data == t.data_ptr()
        assert np.shares_memory(a, t.asnumpy())
        one = np_dtype(1)
        a[0, 1] = one
        assert t[0, 1].item() == one
        t[1, 2] = 0
        assert a[1, 2] == 0
        assert a.flags.writeable

    def test_array_keeps_tensor_alive(self):
        t = Tensor(np.arange(1000, dtype=np.float64))
        a = t.asnumpy()
        del t
        gc.collect()
        np.testing.assert_array_equal(a, np.arange(1000))
        a[:] = 1.0  # memory still valid
        assert a.sum() == 1000.0

    def test_numpy_alias(self):
        t = Tensor([1.0, 2.0])
        np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])

    @pytest.mark.parametrize(
        "make",
        [
            lambda t: t.T,
            lambda t: t[::2],
            lambda t: t[:, ::-1],
            lambda t: t[::-2, 1::3],
            lambda t: t[:, 2],
            lambda t: t.transpose(1, 0)[1:, ::-2],
        ],
        ids=["T", "step", "neg_step", "both", "column", "transpose_slice"],
    )
    def test_noncontiguous_views_export_strides(self, make):
        base_np = np.arange(30, dtype=np.float32).reshape(5, 6)
        t = Tensor(base_np.copy())
        v = make(t)
        expect = make(base_np)
        a = v.asnumpy()
        assert a.shape == expect.shape
        assert a.strides == expect.strides
        np.testing.assert_array_equal(a, expect)
        whole = t.asnumpy()
        assert np.shares_memory(a, whole)
        a[...] = -1.0  # writes through the view reach the base tensor
        expect[...] = -1.0
        np.testing.assert_array_equal(t.asnumpy(), base_np)

    def test_zero_size_and_zero_dim(self):
        t = Tensor(np.zeros((0, 3), dtype=np.float32))
        assert t.asnumpy().shape == (0, 3)
        t = Tensor(2.5)
        a = t.asnumpy()
        assert a.shape == () and a.dtype == np.float32 and a == 2.5
        a[()] = 4.0
        assert t.item() == 4.0

    def test_bfloat16_asnumpy_is_float32_copy(self):
        t = Tensor([1.5, -2.0], dtype=ms.bfloat16)
        a = t.asnumpy()
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, [1.5, -2.0])


class TestArrayProtocols:
    def test_np_asarray_is_zero_copy(self):
        t = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
        a = np.asarray(t)
        assert a.dtype == np.float32 and a.shape == (2, 3)
        assert np.shares_memory(a, t.asnumpy())
        a[0, 0] = 9.0
        assert t[0, 0].item() == 9.0

    def test_np_array_copies(self):
        t = Tensor(np.arange(6, dtype=np.int16))
        a = np.array(t)
        assert a.dtype == np.int16
        assert not np.shares_memory(a, t.asnumpy())
        np.testing.assert_array_equal(a, np.arange(6))

    def test_dunder_array(self):
        t = Tensor(np.arange(4, dtype=np.int32))
        a = t.__array__()
        assert isinstance(a, np.ndarray) and a.dtype == np.int32
        b = t.__array__(np.float64)
        assert b.dtype == np.float64
        np.testing.assert_array_equal(b, [0, 1, 2, 3])
        c = t.__array__(copy=True)
        assert not np.shares_memory(c, t.asnumpy())

    def test_np_asarray_with_dtype(self):
        t = Tensor([1, 2, 3])
        a = np.asarray(t, dtype=np.float32)
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, [1.0, 2.0, 3.0])

    def test_numpy_functions_accept_tensors(self):
        t = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
        assert np.sum(np.asarray(t)) == 15.0
        np.testing.assert_array_equal(np.concatenate([t, t]), np.concatenate([t.asnumpy()] * 2))

    def test_bfloat16_np_asarray(self):
        t = Tensor([1.0, 2.0], dtype=ms.bfloat16)
        a = np.asarray(t)
        np.testing.assert_array_equal(a, [1.0, 2.0])


class TestFromNumpy:
    @pytest.mark.parametrize("np_dtype", NP_DTYPES, ids=lambda d: np.dtype(d).name)
    def test_zero_copy(self, np_dtype):
        a = sample(np_dtype)
        t = ms.from_numpy(a)
        assert isinstance(t, Tensor)
        assert t.dtype == ms.common.dtype.pytype_to_dtype(np_dtype)
        assert t.shape == a.shape
        assert np.shares_memory(t.asnumpy(), a)
        assert t.data_ptr() == a.ctypes.data
        a[0, 0] = np_dtype(1)
        assert t[0, 0].item() == a[0, 0]
        t[1, 1] = 0
        assert a[1, 1] == 0

    def test_keeps_array_alive(self):
        a = np.arange(10_000, dtype=np.float64)
        t = ms.from_numpy(a)
        del a
        gc.collect()
        np.testing.assert_array_equal(t.asnumpy(), np.arange(10_000))

    def test_noncontiguous_array(self):
        a = np.arange(20, dtype=np.float32).reshape(4, 5)
        for view in (a.T, a[::2, ::-1], a[:, 3]):
            t = ms.from_numpy(view)
            assert t.shape == view.shape
            np.testing.assert_array_equal(t.asnumpy(), view)
            assert np.shares_memory(t.asnumpy(), a)

    def test_ops_on_strided_from_numpy(self):
        a = np.arange(20, dtype=np.float32).reshape(4, 5)
        t = ms.from_numpy(a[::-1, ::2])
        np.testing.assert_allclose((t * 2).asnumpy(), a[::-1, ::2] * 2)

    def test_readonly_array(self):
        a = np.arange(4, dtype=np.float32)
        a.flags.writeable = False
        t = ms.from_numpy(a)  # reading is fine
        np.testing.assert_array_equal(t.asnumpy(), a)

    def test_readonly_memory_is_not_written(self):
        """A tensor over read-only memory (here an immutable bytes object) must not write it: either the
        write raises, or from_numpy copied."""
        buf = bytes(16)
        t = ms.from_numpy(np.frombuffer(buf, dtype=np.float32))
        try:
            t[0] = 1.0
        except (ValueError, TypeError, RuntimeError, BufferError):
            pass
        try:
            t.asnumpy()[1] = 2.0
        except ValueError:
            pass
        assert buf == bytes(16)

    def test_rejects_unsupported(self):
        with pytest.raises(TypeError):
            ms.from_numpy(np.array([1 + 1j]))
        with pytest.raises(TypeError):
            ms.from_numpy(np.array(["a"]))
        with pytest.raises(TypeError):
            ms.from_numpy([1, 2])


class TestBufferProtocol:
    @pytest.mark.parametrize("np_dtype", NP_DTYPES, ids=lambda d: np.dtype(d).name)
    def test_memoryview(self, np_dtype):
        a = sample(np_dtype)
        t = Tensor(a)
        m = memoryview(t)
        assert m.format == np.dtype(np_dtype).char or (np_dtype == np.int64 and m.format in "lq")
        assert m.itemsize == a.itemsize
        assert m.shape == a.shape
        assert m.strides == a.strides
        assert m.ndim == 2
        assert not m.readonly
        assert m.nbytes == a.nbytes
        assert m.c_contiguous
        np.testing.assert_array_equal(np.asarray(m), a)

    def test_write_through_memoryview(self):
        t = Tensor(np.zeros(4, dtype=np.int32))
        m = memoryview(t)
        m[2] = 7
        assert t.asnumpy().tolist() == [0, 0, 7, 0]
        m.release()

    def test_memoryview_of_strided_view(self):
        t = Tensor(np.arange(12, dtype=np.float64).reshape(3, 4))
        v = t.T[::-1]
        m = memoryview(v)
        assert m.shape == (4, 3)
        assert m.strides == np.arange(12, dtype=np.float64).reshape(3, 4).T[::-1].strides
        assert not m.c_contiguous
        np.testing.assert_array_equal(np.asarray(m), np.arange(12).reshape(3, 4).T[::-1])

    def test_bytes_of_strided_view(self):
        a = np.arange(12, dtype=np.float32).reshape(3, 4)
        t = Tensor(a)
        assert bytes(t.T) == np.ascontiguousarray(a.T).tobytes()  # bytes() gathers a strided buffer
        assert bytes(t.T.contiguous()) == np.ascontiguousarray(a.T).tobytes()

    def test_contiguous_request_on_strided_view_fails(self):
        t = Tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
        with pytest.raises((BufferError, ValueError)):
            np.frombuffer(t.T, dtype=np.float32)  # asks for a simple (contiguous) buffer

    def test_bytes_of_contiguous(self):
        a = np.arange(5, dtype=np.int16)
        assert bytes(Tensor(a)) == a.tobytes()

    def test_bfloat16_has_no_buffer(self):
        t = Tensor([1.0], dtype=ms.bfloat16)
        with pytest.raises(BufferError, match="bfloat16"):
            memoryview(t)

    def test_from_buffer_of_bytearray_and_array(self):
        import array

        b = array.array("f", [1.0, 2.0, 3.0])
        t = ms._C.from_buffer(b)
        assert t.dtype == ms.float32
        np.testing.assert_array_equal(t.asnumpy(), [1.0, 2.0, 3.0])
        b[0] = 5.0
        assert t[0].item() == 5.0

    def test_live_export_keeps_tensor_memory(self):
        t = Tensor(np.arange(100, dtype=np.float32))
        m = memoryview(t)
        del t
        gc.collect()
        assert m[99] == 99.0
        m.release()


class TestDLPack:
    @pytest.mark.parametrize("np_dtype", NP_DTYPES, ids=lambda d: np.dtype(d).name)
    def test_numpy_from_dlpack_of_tensor(self, np_dtype):
        t = Tensor(sample(np_dtype))
        a = np.from_dlpack(t)
        assert a.dtype == np_dtype
        np.testing.assert_array_equal(a, sample(np_dtype))
        assert np.shares_memory(a, t.asnumpy())

    def test_numpy_from_dlpack_of_strided_tensor(self):
        t = Tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
        v = t.T[1:, ::-1]
        a = np.from_dlpack(v)
        expect = np.arange(12, dtype=np.float32).reshape(3, 4).T[1:, ::-1]
        np.testing.assert_array_equal(a, expect)
        assert a.strides == expect.strides
        assert np.shares_memory(a, t.asnumpy())

    @pytest.mark.parametrize("np_dtype", NP_DTYPES, ids=lambda d: np.dtype(d).name)
    def test_ms_from_dlpack_of_numpy(self, np_dtype):
        a = sample(np_dtype)
        t = ms.from_dlpack(a)
        assert isinstance(t, Tensor)
        assert t.dtype == ms.common.dtype.pytype_to_dtype(np_dtype)
        np.testing.assert_array_equal(t.asnumpy(), a)
        assert np.shares_memory(t.asnumpy(), a)

    def test_ms_from_dlpack_strided_numpy(self):
        a = np.arange(20, dtype=np.int32).reshape(4, 5)
        v = a[::2, ::-2]
        t = ms.from_dlpack(v)
        np.testing.assert_array_equal(t.asnumpy(), v)
        assert np.shares_memory(t.asnumpy(), a)

    def test_writes_through_imported_numpy_array(self):
        b = np.zeros(3, dtype=np.float32)
        u = ms.from_dlpack(b)
        u[2] = 3.0
        assert b[2] == 3.0
        b[0] = 1.0
        assert u[0].item() == 1.0

    def test_exported_array_is_writable(self):
        """NumPy asks for a versioned (DLPack 1.0) capsule, __dlpack__(max_version=(1, 0)); an unversioned
        capsule cannot say "writable", so NumPy marks the array read-only."""
        t = Tensor(np.zeros(3, dtype=np.float32))
        a = np.from_dlpack(t)
        assert a.flags.writeable
        a[1] = 5.0
        assert t[1].item() == 5.0
        t[2] = 4.0
        assert a[2] == 4.0

    def test_versioned_capsule(self):
        t = Tensor(np.zeros(3, dtype=np.float32))
        cap = t.__dlpack__(max_version=(1, 0))
        assert "dltensor_versioned" in repr(cap)
        cap = t.__dlpack__()  # no max_version: the legacy capsule
        assert '"dltensor"' in repr(cap)

    def test_round_trip(self):
        t = Tensor(np.arange(6, dtype=np.float64).reshape(2, 3))
        u = ms.from_dlpack(t)
        assert u.shares_memory(t) or np.shares_memory(u.asnumpy(), t.asnumpy())
        np.testing.assert_array_equal(u.asnumpy(), t.asnumpy())

    def test_lifetime(self):
        a = np.arange(1000, dtype=np.float64)
        t = ms.from_dlpack(a)
        del a
        gc.collect()
        assert t.asnumpy().sum() == np.arange(1000).sum()
        t2 = Tensor(np.arange(1000, dtype=np.float64))
        b = np.from_dlpack(t2)
        del t2
        gc.collect()
        assert b.sum() == np.arange(1000).sum()

    def test_capsule_not_consumed_is_freed(self):
        t = Tensor([1.0, 2.0])
        for _ in range(100):
            cap = t.__dlpack__()
            del cap
        np.testing.assert_array_equal(t.asnumpy(), [1.0, 2.0])

    def test_dlpack_device(self):
        assert Tensor([1.0]).__dlpack_device__() == (1, 0)

    def test_dlpack_zero_dim(self):
        t = Tensor(3.5)
        a = np.from_dlpack(t)
        assert a.shape == () and a == 3.5
        u = ms.from_dlpack(np.array(2, dtype=np.int16))
        assert u.shape == () and u.item() == 2

    def test_from_dlpack_rejects_non_dlpack(self):
        with pytest.raises((TypeError, AttributeError)):
            ms.from_dlpack([1, 2, 3])


# ============================================================================ scalar conversions
class TestScalars:
    @pytest.mark.parametrize(
        "value, dtype, py",
        [
            (1.5, ms.float32, float),
            (1.5, ms.float64, float),
            (1.5, ms.float16, float),
            (2.0, ms.bfloat16, float),
            (-3, ms.int8, int),
            (200, ms.uint8, int),
            (-300, ms.int16, int),
            (7, ms.int32, int),
            (2**40, ms.int64, int),
            (True, ms.bool_, bool),
        ],
    )
    def test_item(self, value, dtype, py):
        for t in (Tensor(value, dtype=dtype), Tensor([value], dtype=dtype), Tensor([[value]], dtype=dtype)):
            v = t.item()
            assert type(v) is py
            assert v == value

    def test_item_with_index(self):
        t = Tensor(np.arange(6, dtype=np.int32).reshape(2, 3))
        assert t.item(4) == 4
        assert t.item(-1) == 5
        assert t.T.item(1) == 3  # row-major over the view, as NumPy's item
        with pytest.raises(IndexError):
            t.item(6)

    def test_item_of_many_raises(self):
        with pytest.raises(ValueError, match="one element"):
            Tensor([1.0, 2.0]).item()
        with pytest.raises(ValueError):
            Tensor(np.zeros((0,), np.float32)).item()

    @pytest.mark.parametrize("shape", [(), (1,), (1, 1), (0,), (3,), (2, 2), (2, 0, 3)])
    @pytest.mark.parametrize("np_dtype", [np.float32, np.int64, np.bool_, np.float16, np.uint8],
                             ids=lambda d: np.dtype(d).name)
    def test_tolist(self, shape, np_dtype):
        a = sample(np_dtype, shape) if np.prod(shape) else np.zeros(shape, np_dtype)
        got = Tensor(a).tolist()
        assert got == a.tolist()
        flat = got
        while isinstance(flat, list) and flat:
            flat = flat[0]
        if not isinstance(flat, list):
            assert type(flat) is type(a.tolist() if a.ndim == 0 else a.flat[0].item())

    def test_tolist_of_view(self):
        a = np.arange(12, dtype=np.int32).reshape(3, 4)
        assert Tensor(a).T[::-1].tolist() == a.T[::-1].tolist()

    @pytest.mark.parametrize("src", [np.float32, np.int32, np.bool_, np.float16, np.int8])
    @pytest.mark.parametrize("dst", ["float64", "float32", "float16", "int64", "int32", "int16", "uint8", "bool"])
    def test_astype(self, src, dst):
        a = np.array([0, 1, 2, 7, 100], dtype=np.int64).astype(src)
        t = Tensor(a).astype(dst)
        assert t.dtype == dst
        got = t.asnumpy()
        assert got.dtype == np.dtype(dst)
        np.testing.assert_array_equal(got, a.astype(dst))

    def test_astype_float_to_int_truncates(self):
        a = np.array([1.9, -1.9, 0.5, -0.5, 100.99], dtype=np.float32)
        np.testing.assert_array_equal(Tensor(a).astype(ms.int32).asnumpy(), a.astype(np.int32))

    def test_astype_accepts_dtype_likes(self):
        t = Tensor([1, 2])
        assert t.astype(ms.float16).dtype == ms.float16
        assert t.astype(np.float32).dtype == ms.float32
        assert t.astype(float).dtype == ms.float32
        assert t.astype("bfloat16").dtype == ms.bfloat16
        with pytest.raises(TypeError):
            t.astype("complex64")

    def test_astype_same_dtype_copies_by_default(self):
        """MindSpore's astype(dtype, copy=True) returns a new tensor unless copy=False."""
        t = Tensor([1.0, 2.0])
        u = t.astype(ms.float32)
        assert u is not t and not u.shares_memory(t)
        u[0] = 9.0
        assert t[0].item() == 1.0
        assert t.astype(ms.float32, copy=False) is t

    def test_astype_returns_new_tensor_of_other_dtype(self):
        t = Tensor([1.0, 2.0])
        u = t.astype(ms.float64)
        assert not u.shares_memory(t)
        c = t.astype(ms.float32, copy=True)
        assert c is not t and not c.shares_memory(t)

    def test_astype_of_view(self):
        a = np.arange(12, dtype=np.float32).reshape(3, 4)
        np.testing.assert_array_equal(Tensor(a).T.astype(ms.int16).asnumpy(), a.T.astype(np.int16))

    @pytest.mark.parametrize("dtype", [ms.float32, ms.float64, ms.float16, ms.int32, ms.int64, ms.uint8, ms.bool_])
    def test_int_float_bool(self, dtype):
        for data in (3, [3], [[3]]):
            t = Tensor(data, dtype=dtype)
            expect = 1 if dtype == ms.bool_ else 3
            assert int(t) == expect and type(int(t)) is int
            assert float(t) == float(expect) and type(float(t)) is float
            assert bool(t) is True
        assert bool(Tensor(0, dtype=dtype)) is False

    def test_int_of_float_truncates(self):
        assert int(Tensor(2.9)) == 2
        assert int(Tensor(-2.9)) == -2

    def test_int_of_nan_and_inf_raise(self):
        with pytest.raises(ValueError):
            int(Tensor(float("nan")))
        with pytest.raises(OverflowError):
            int(Tensor(float("inf")))

    def test_large_int64_exact(self):
        v = 2**62 + 1
        t = Tensor(v)
        assert int(t) == v
        assert t.item() == v

    @pytest.mark.parametrize("conv", [int, float, bool], ids=["int", "float", "bool"])
    @pytest.mark.parametrize("shape", [(2,), (2, 3), (0,)])
    def test_conversion_of_many_elements_raises(self, conv, shape):
        t = Tensor(np.ones(shape, dtype=np.float32))
        with pytest.raises(ValueError) as ei:
            conv(t)
        msg = str(ei.value)
        assert str(int(np.prod(shape))) in msg and "element" in msg

    def test_if_on_tensor(self):
        x = Tensor([5.0])
        assert (x > 1)
        assert not (x > 10)
        with pytest.raises(ValueError, match="ambiguous"):
            if Tensor([1.0, 2.0]) > 0:
                pass

    def test_index_protocol(self):
        lst = list(range(10))
        assert lst[Tensor(3)] == 3
        assert range(10)[Tensor(2, dtype=ms.uint8)] == 2
        with pytest.raises(TypeError):
            lst[Tensor(1.0)]
        with pytest.raises(TypeError):
            lst[Tensor([1, 2])]
        import operator

        assert operator.index(Tensor(7)) == 7


# ============================================================================ len / iteration
class TestSequenceProtocol:
    def test_len(self):
        assert len(Tensor(np.zeros((4, 2)))) == 4
        assert len(Tensor(np.zeros((0, 2)))) == 0
        assert len(Tensor([1, 2, 3])) == 3
        with pytest.raises(TypeError, match="0-d"):
            len(Tensor(1.0))

    def test_iteration(self):
        a = np.arange(12, dtype=np.float32).reshape(3, 4)
        t = Tensor(a)
        rows = list(t)
        assert len(rows) == 3
        for r, e in zip(rows, a):
            assert isinstance(r, Tensor)
            assert r.shape == (4,)
            np.testing.assert_array_equal(r.asnumpy(), e)

    def test_iteration_1d_yields_0d_tensors(self):
        t = Tensor([1, 2, 3])
        items = list(t)
        assert all(isinstance(i, Tensor) and i.shape == () for i in items)
        assert [i.item() for i in items] == [1, 2, 3]
        assert [int(i) for i in t] == [1, 2, 3]

    def test_iteration_rows_are_views(self):
        t = Tensor(np.zeros((2, 3), dtype=np.float32))
        for r in t:
            r[1] = 5.0
        np.testing.assert_array_equal(t.asnumpy()[:, 1], [5.0, 5.0])

    def test_iteration_over_view(self):
        a = np.arange(6, dtype=np.int32).reshape(2, 3)
        assert [r.tolist() for r in Tensor(a).T] == a.T.tolist()

    def test_iteration_over_0d_raises(self):
        with pytest.raises(TypeError, match="0-d"):
            iter(Tensor(1.0))

    def test_unpacking(self):
        a, b = Tensor([[1, 2], [3, 4]])
        assert a.tolist() == [1, 2] and b.tolist() == [3, 4]

    def test_empty_iteration(self):
        assert list(Tensor(np.zeros((0, 3)))) == []

    def test_contains_is_not_silently_wrong(self):
        t = Tensor([1, 2, 3])
        # NumPy semantics: `x in t` is (t == x).any()
        assert (2 in t) is True
        assert (5 in t) is False


# ============================================================================ pickling, hashing, repr
class TestPickleHash:
    @pytest.mark.parametrize("dtype", ALL_DTYPES, ids=lambda d: d.name)
    @pytest.mark.parametrize("shape", [(), (3,), (2, 3), (0, 2)])
    def test_pickle_round_trip(self, dtype, shape):
        a = np.arange(int(np.prod(shape))).reshape(shape) % 5
        t = Tensor(a, dtype=dtype)
        for proto in (2, pickle.HIGHEST_PROTOCOL):
            u = pickle.loads(pickle.dumps(t, protocol=proto))
            assert type(u) is Tensor
            assert u.dtype == dtype
            assert u.shape == shape
            np.testing.assert_array_equal(u.asnumpy(), t.asnumpy())
            if t.size:
                assert not u.shares_memory(t)

    def test_pickle_view(self):
        a = np.arange(12, dtype=np.float32).reshape(3, 4)
        t = Tensor(a).T[::2]
        u = pickle.loads(pickle.dumps(t))
        np.testing.assert_array_equal(u.asnumpy(), a.T[::2])

    def test_pickle_subclass(self):
        u = pickle.loads(pickle.dumps(PickleSub([1.0, 2.0])))
        assert type(u) is PickleSub
        np.testing.assert_array_equal(u.asnumpy(), [1.0, 2.0])

    def test_copy_module(self):
        import copy

        t = Tensor([1.0, 2.0])
        u = copy.deepcopy(t)
        assert not u.shares_memory(t)
        np.testing.assert_array_equal(u.asnumpy(), t.asnumpy())
        v = copy.copy(t)
        np.testing.assert_array_equal(v.asnumpy(), t.asnumpy())

    def test_hash_by_identity(self):
        a = Tensor([1.0, 2.0])
        b = Tensor([1.0, 2.0])
        assert hash(a) == hash(a)
        d = {a: "a", b: "b"}
        assert len(d) == 2
        assert d[a] == "a" and d[b] == "b"
        s = {a, a, b}
        assert len(s) == 2
        assert a in s

    def test_hash_of_0d(self):
        t = Tensor(1.0)
        assert hash(t) == hash(t)
        assert {t: 1}[t] == 1

    def test_weakref(self):
        t = Tensor([1.0])
        r = weakref.ref(t)
        assert r() is t
        del t
        gc.collect()
        assert r() is None

    def test_repr_and_str(self):
        t = Tensor(np.array([[1.0, 2.5], [3.0, 4.0]], dtype=np.float32))
        assert str(t) == str(t.asnumpy())
        r = repr(t)
        assert r.startswith("Tensor(shape=[2, 2], dtype=Float32, value=")
        assert str(Tensor(3)) == "3"
        assert str(Tensor([True, False])) == str(np.array([True, False]))


class PickleSub(Tensor):
    pass


def test_no_leaks_in_conversions():
    """Round trips through every interchange path release their C blocks."""
    live = ms._C.alloc_live_blocks
    a = np.arange(100, dtype=np.float32).reshape(10, 10)

    def churn():
        for _ in range(20):
            t = Tensor(a)
            t.asnumpy()
            np.asarray(t)
            memoryview(t).release()
            np.from_dlpack(t)
            ms.from_dlpack(a)
            ms.from_numpy(a)
            t.tolist()
            pickle.loads(pickle.dumps(t))
            t.T.asnumpy()
            t[1:3, ::2].asnumpy()
            list(t)
            t.astype(ms.float16)
            del t

    churn()
    gc.collect()
    before = live()
    churn()
    gc.collect()
    assert live() == before
