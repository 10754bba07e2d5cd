"""Flow models: 1-D flow maps are increasing; `predict` equals the model on any number of rows."""

import jax
import jax.numpy as jnp
import numpy as np

from dynml.flows import FlowModel, predict


def _model(augment: int) -> FlowModel:
    return FlowModel(
        1,
        1,
        augment=augment,
        width=16,
        depth=2,
        n_steps=8,
        readout="identity",
        key=jax.random.PRNGKey(3),
    )


def test_one_dimensional_flow_map_is_increasing():
    # Trajectories of a 1-D ODE cannot cross, so phi_T is increasing for any field.
    x = jnp.linspace(-2.0, 2.0, 301)[:, None]
    out = np.asarray(predict(_model(0), x))[:, 0]
    assert np.all(np.diff(out) > 0)


def test_predict_equals_the_model_on_uneven_row_counts():
    model = _model(1)
    z = jax.random.normal(jax.random.PRNGKey(0), (37, 1))
    np.testing.assert_allclose(predict(model, z, chunk=16), model(z), rtol=1e-6, atol=1e-7)
