"""nn.Cell: parameter and sub-cell registration, MindSpore-style naming, traversal, modes, containers,
repr, forward / backward hooks and custom bprop."""
from collections import OrderedDict

import numpy as np
import pytest

import dynastat as ms
from dynastat import nn
from dynastat.common.parameter import Parameter, ParameterTuple
from nn_testutil import T, close


class Net(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Dense(4, 3)
        self.relu = nn.ReLU()
        self.fc2 = nn.Dense(3, 2, has_bias=False)
        self.scale = Parameter(T(np.array([2.0])), name="scale")

    def construct(self, x):
        return self.fc2(self.relu(self.fc1(x))) * self.scale


class Outer(nn.Cell):
    def __init__(self):
        super().__init__()
        self.backbone = Net()
        self.bn = nn.BatchNorm1d(2)

    def construct(self, x):
        return self.bn(self.backbone(x))


# ------------------------------------------------------------------------------------------ registration
def test_parameters_registered_and_named_by_path():
    net = Net()
    names = [n for n, _ in net.parameters_and_names()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "fc2.weight"]
    assert [p.name for p in net.get_parameters()] == names


def test_nested_prefix_follows_attribute_path():
    net = Outer()
    names = [p.name for p in net.get_parameters()]
    assert names == ["backbone.scale", "backbone.fc1.weight", "backbone.fc1.bias", "backbone.fc2.weight",
                     "bn.moving_mean", "bn.moving_variance", "bn.gamma", "bn.beta"]
    assert [n for n, _ in net.parameters_and_names()] == names


def test_top_level_layer_keeps_short_names():
    bn = nn.BatchNorm2d(3)
    assert [p.name for p in bn.get_parameters()] == ["mean", "variance", "gamma", "beta"]
    d = nn.Dense(2, 3)
    assert [p.name for p in d.get_parameters()] == ["weight", "bias"]


def test_auto_prefix_false_keeps_child_names():
    class Wrap(nn.Cell):
        def __init__(self):
            super().__init__(auto_prefix=False)
            self.net = nn.Dense(2, 2)

    assert [p.name for p in Wrap().get_parameters()] == ["weight", "bias"]


def test_unnamed_parameter_takes_attribute_name():
    class C(nn.Cell):
        def __init__(self):
            super().__init__()
            self.w = Parameter(T(np.ones(2)))

    c = C()
    assert c.w.name == "w"
    assert c.parameters_dict()["w"] is c.w


def test_trainable_and_untrainable_params():
    net = Outer()
    tr = net.trainable_params()
    un = net.untrainable_params()
    assert [p.name for p in un] == ["bn.moving_mean", "bn.moving_variance"]
    assert len(tr) == 6 and all(p.requires_grad for p in tr)
    assert len(net.trainable_params(recurse=False)) == 0


def test_shared_parameter_listed_once():
    class C(nn.Cell):
        def __init__(self):
            super().__init__()
            self.a = nn.Dense(2, 2)
            self.b = self.a

    c = C()
    assert len(list(c.get_parameters())) == 2
    assert list(c.name_cells()) == ["a"]


def test_cells_and_names_and_name_cells():
    net = Outer()
    names = [n for n, _ in net.cells_and_names()]
    assert names == ["", "backbone", "backbone.fc1", "backbone.relu", "backbone.fc2", "bn"]
    assert list(net.name_cells()) == ["backbone", "bn"]
    assert [type(c).__name__ for c in net.cells()] == ["Net", "BatchNorm1d"]
    assert [n for n, _ in net.cells_and_names(name_prefix="top")][:2] == ["top", "top.backbone"]


def test_parameter_name_clash_in_one_cell_is_an_error():
    class C(nn.Cell):
        def __init__(self):
            super().__init__()
            self.a = Parameter(T(np.ones(2)), name="w")
            self.b = Parameter(T(np.ones(2)), name="w")

    with pytest.raises(ValueError, match="parameter name clash.*'a' and 'b'.*named 'w'"):
        C()


def test_parameter_name_clash_across_cells_is_reported():
    class Wrap(nn.Cell):
        def __init__(self):
            super().__init__(auto_prefix=False)
            self.a = nn.Dense(2, 2)
            self.b = nn.Dense(2, 2)

        def construct(self, x):
            return self.b(self.a(x))

    w = Wrap()
    with pytest.raises(ValueError, match="parameter name clash.*'a.weight' and 'b.weight'.*named 'weight'"):
        w.check_names()
    with pytest.raises(ValueError, match="name clash|already|unique"):
        nn.SGD(w.trainable_params())


def test_assign_tensor_to_parameter_attribute_copies_into_it():
    net = nn.Dense(2, 2)
    w = net.weight
    net.weight = T(np.full((2, 2), 3.0))
    assert net.weight is w
    close(w, np.full((2, 2), 3.0))


def test_wrong_types_on_registered_attributes():
    net = Net()
    with pytest.raises(TypeError, match="is a Parameter"):
        net.scale = 3
    with pytest.raises(TypeError, match="is a Cell"):
        net.fc1 = 3
    with pytest.raises(TypeError, match="holds a Parameter"):
        net.scale = nn.ReLU()
    with pytest.raises(TypeError, match="holds a Cell"):
        net.fc1 = Parameter(T(np.ones(1)))
    net.fc2 = None
    assert "fc2" not in net.name_cells()
    assert [n for n, _ in net.parameters_and_names()] == ["scale", "fc1.weight", "fc1.bias"]


def test_delete_attribute_unregisters():
    net = Net()
    del net.fc1
    del net.scale
    assert [n for n, _ in net.parameters_and_names()] == ["fc2.weight"]
    with pytest.raises(AttributeError):
        net.fc1


def test_assign_before_init_is_an_error():
    class Bad(nn.Cell):
        def __init__(self):
            self.fc = nn.Dense(2, 2)
            super().__init__()

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Bad()


def test_insert_param_to_cell():
    c = nn.Cell()
    p = Parameter(T(np.ones(3)))
    c.insert_param_to_cell("w", p)
    assert c.w is p and p.name == "w"
    with pytest.raises(KeyError, match="must not contain '.'"):
        c.insert_param_to_cell("a.b", Parameter(T(np.ones(1))))
    with pytest.raises(TypeError, match="must be a Parameter"):
        c.insert_param_to_cell("x", T(np.ones(1)))
    c.foo = 3
    with pytest.raises(KeyError, match="already exists"):
        c.insert_param_to_cell("foo", Parameter(T(np.ones(1))))


def test_parameter_tuple_attribute_registers_members():
    class C(nn.Cell):
        def __init__(self):
            super().__init__()
            self.ps = ParameterTuple([Parameter(T(np.ones(2)), name="p0"), Parameter(T(np.ones(3)), name="p1")])

    c = C()
    assert [p.name for p in c.get_parameters()] == ["p0", "p1"]
    assert isinstance(c.ps, ParameterTuple) and len(c.ps) == 2


def test_init_parameters_data_and_parameters_dict():
    net = Net()
    d = net.init_parameters_data()
    assert list(d) == ["scale", "fc1.weight", "fc1.bias", "fc2.weight"]
    assert d["fc1.weight"] is net.fc1.weight


# ------------------------------------------------------------------------------------------ modes
def test_cells_start_in_inference_mode_and_set_train_recurses():
    net = Outer()
    assert all(not c.training for _, c in net.cells_and_names())
    assert net.set_train() is net
    assert all(c.training for _, c in net.cells_and_names())
    net.set_train(False)
    assert all(not c.training for _, c in net.cells_and_names())


def test_set_grad():
    net = Net()
    assert net.requires_grad is False
    assert net.set_grad() is net and net.requires_grad is True
    net.set_grad(False)
    assert net.requires_grad is False


# ------------------------------------------------------------------------------------------ calling
def test_call_runs_construct():
    ms.set_seed(0)
    net = Net()
    x = T(np.random.default_rng(0).standard_normal((5, 4)))
    w1, b1, w2 = (p.asnumpy() for p in (net.fc1.weight, net.fc1.bias, net.fc2.weight))
    ref = np.maximum(x.asnumpy() @ w1.T + b1, 0) @ w2.T * 2.0
    close(net(x), ref, rtol=1e-5)


def test_numpy_input_is_refused():
    with pytest.raises(TypeError, match="NumPy"):
        nn.ReLU()(np.ones(3, np.float32))


def test_missing_construct():
    with pytest.raises(NotImplementedError, match="construct"):
        nn.Cell()(T(np.ones(1)))


def test_repr_lists_subcells():
    r = repr(Net())
    assert r.startswith("Net<\n  (fc1): Dense<input_channels=4, output_channels=3, has_bias=True>")
    assert "(relu): ReLU<>" in r and "(fc2): Dense<input_channels=3, output_channels=2>" in r
    assert r.endswith("\n  >")
    assert repr(nn.ReLU()) == "ReLU<>"


# ------------------------------------------------------------------------------------------ containers
def test_sequential_cell():
    ms.set_seed(1)
    seq = nn.SequentialCell([nn.Dense(3, 4), nn.ReLU(), nn.Dense(4, 2)])
    assert [p.name for p in seq.get_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    x = T(np.ones((2, 3)))
    close(seq(x), seq[2](seq[1](seq[0](x))))
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU)
    sub = seq[:2]
    assert isinstance(sub, nn.SequentialCell) and len(sub) == 2
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and isinstance(seq[-1], nn.Sigmoid)
    del seq[1]
    assert [type(c).__name__ for c in seq] == ["Dense", "Dense", "Sigmoid"]
    assert list(seq.name_cells()) == ["0", "1", "2"]
    with pytest.raises(IndexError):
        seq[5]
    with pytest.raises(TypeError, match="must be a Cell"):
        nn.SequentialCell([nn.ReLU(), 3])


def test_sequential_cell_ordered_dict_and_nesting():
    seq = nn.SequentialCell(OrderedDict([("fc", nn.Dense(2, 2)), ("act", nn.ReLU())]))
    assert [p.name for p in seq.get_parameters()] == ["fc.weight", "fc.bias"]

    class M(nn.Cell):
        def __init__(self):
            super().__init__()
            self.layers = nn.SequentialCell(nn.Dense(2, 2), nn.ReLU())

    assert [p.name for p in M().get_parameters()] == ["layers.0.weight", "layers.0.bias"]


def test_cell_list():
    cl = nn.CellList([nn.Dense(2, 2), nn.ReLU()])
    cl.append(nn.Dense(2, 3))
    cl.insert(0, nn.Tanh())
    assert [type(c).__name__ for c in cl] == ["Tanh", "Dense", "ReLU", "Dense"]
    assert [p.name for p in cl.get_parameters()] == ["1.weight", "1.bias", "3.weight", "3.bias"]
    cl.extend([nn.Sigmoid()])
    assert len(cl) == 5
    with pytest.raises(NotImplementedError, match="not callable"):
        cl(T(np.ones(2)))

    class M(nn.Cell):
        def __init__(self):
            super().__init__()
            self.blocks = nn.CellList([nn.Dense(2, 2) for _ in range(2)])

        def construct(self, x):
            for b in self.blocks:
                x = b(x)
            return x

    m = M()
    assert [p.name for p in m.trainable_params()] == ["blocks.0.weight", "blocks.0.bias", "blocks.1.weight",
                                                        "blocks.1.bias"]
    assert m(T(np.ones((1, 2)))).shape == (1, 2)


# ------------------------------------------------------------------------------------------ hooks
def test_forward_pre_hook_and_forward_hook():
    relu = nn.ReLU()
    seen = []

    def pre(cell, inputs):
        seen.append(("pre", cell, inputs[0].asnumpy().tolist()))
        return (inputs[0] - 1.0,)

    def post(cell, inputs, output):
        seen.append(("post", inputs[0].asnumpy().tolist(), output.asnumpy().tolist()))
        return output * 10.0

    h1 = relu.register_forward_pre_hook(pre)
    h2 = relu.register_forward_hook(post)
    out = relu(T([0.5, 3.0]))
    close(out, [0.0, 20.0])
    assert seen[0][0] == "pre" and seen[0][1] is relu and seen[0][2] == [0.5, 3.0]
    assert seen[1] == ("post", [-0.5, 2.0], [0.0, 2.0])
    h1.remove()
    h2.remove()
    h2.remove()  # a second remove does nothing
    close(relu(T([0.5, 3.0])), [0.5, 3.0])


def test_forward_pre_hook_single_value_and_none():
    relu = nn.ReLU()
    relu.register_forward_pre_hook(lambda cell, inputs: inputs[0] * 2.0)
    relu.register_forward_pre_hook(lambda cell, inputs: None)
    close(relu(T([1.0, -1.0])), [2.0, 0.0])


def test_hook_handle_context_manager_and_type_check():
    relu = nn.ReLU()
    with relu.register_forward_hook(lambda c, i, o: o + 1.0):
        close(relu(T([1.0])), [2.0])
    close(relu(T([1.0])), [1.0])
    with pytest.raises(TypeError, match="callable"):
        relu.register_forward_hook(3)


def test_forward_hooks_take_part_in_gradients():
    # as in the seeds' hook tutorial: a forward hook computing on the output changes the gradient
    class N(nn.Cell):
        def __init__(self):
            super().__init__()
            self.relu = nn.ReLU()
            self.handle = self.relu.register_forward_hook(lambda cell, inputs, outputs: outputs + outputs)

        def construct(self, x, y):
            return self.relu(x + y)

    net = N()
    x, y = T(np.ones(1)), T(np.ones(1))
    gx, gy = ms.grad(net, grad_position=(0, 1))(x, y)
    close(gx, [2.0])
    close(gy, [2.0])
    net.handle.remove()
    gx, gy = ms.grad(net, grad_position=(0, 1))(x, y)
    close(gx, [1.0])


def test_backward_hook_sees_and_replaces_input_gradient():
    calls = []

    def bhook(cell, grad_input, grad_output):
        calls.append((cell, [g.asnumpy().tolist() for g in grad_input], [g.asnumpy().tolist() for g in grad_output]))
        return (grad_input[0] * 3.0,)

    class N(nn.Cell):
        def __init__(self):
            super().__init__()
            self.relu = nn.ReLU()

        def construct(self, x):
            return self.relu(x) * 2.0

    net = N()
    h = net.relu.register_backward_hook(bhook)
    x = T([1.0, -1.0])
    g = ms.grad(net)(x)
    close(g, [6.0, 0.0])
    assert len(calls) == 1 and calls[0][0] is net.relu
    assert calls[0][1] == [[2.0, 0.0]] and calls[0][2] == [[2.0, 2.0]]
    h.remove()
    close(ms.grad(net)(x), [2.0, 0.0])
    # forward values are untouched by backward hooks
    net.relu.register_backward_hook(bhook)
    close(net(x), [2.0, 0.0])


def test_backward_pre_hook_replaces_output_gradient():
    seen = []

    def pre(cell, grad_output):
        seen.append(grad_output[0].asnumpy().tolist())
        return (grad_output[0] * 0.5,)

    d = nn.ReLU()
    d.register_backward_pre_hook(pre)
    g = ms.grad(lambda x: (d(x) * 4.0).sum())(T([1.0, 2.0]))
    assert seen == [[4.0, 4.0]]
    close(g, [2.0, 2.0])


def test_backward_hook_on_cell_with_parameters_keeps_weight_gradients():
    ms.set_seed(3)
    dense = nn.Dense(3, 2)
    got = []
    dense.register_backward_hook(lambda cell, gi, go: got.append(len(gi)))
    x = T(np.ones((4, 3)))
    (gx,), (gw, gb) = ms.grad(lambda x: dense(x).sum(), grad_position=(0,), weights=dense.trainable_params())(x)
    close(gw, np.full((2, 3), 4.0))
    close(gb, [4.0, 4.0])
    close(gx, np.tile(dense.weight.asnumpy().sum(0), (4, 1)), rtol=1e-5)
    assert got == [1]


# ------------------------------------------------------------------------------------------ bprop
class Square(nn.Cell):
    def construct(self, x):
        return x * x


class CustomSquare(nn.Cell):
    def construct(self, x):
        return x * x

    def bprop(self, x, out, dout):
        return (dout * 10.0,)


def test_custom_bprop_replaces_the_gradient():
    x = T([1.0, 2.0, 3.0])
    close(ms.grad(lambda v: Square()(v).sum())(x), [2.0, 4.0, 6.0])
    close(ms.grad(lambda v: CustomSquare()(v).sum())(x), [10.0, 10.0, 10.0])
    close(CustomSquare()(x), [1.0, 4.0, 9.0])


def test_custom_bprop_two_inputs_and_out():
    class MulCell(nn.Cell):
        def construct(self, x, y):
            return x * y

        def bprop(self, x, y, out, dout):
            return dout * y * 2.0, dout * out

    x, y = T([2.0]), T([3.0])
    gx, gy = ms.grad(MulCell(), grad_position=(0, 1))(x, y)
    close(gx, [6.0])
    close(gy, [6.0])


def test_custom_bprop_inside_a_network():
    class Net2(nn.Cell):
        def __init__(self):
            super().__init__()
            self.sq = CustomSquare()

        def construct(self, x):
            return self.sq(x * 2.0) * 3.0

    close(ms.grad(lambda v: Net2()(v).sum())(T([1.0, 5.0])), [60.0, 60.0])
