"""Write model files with the code as of bab3831 (format 1) and what resuming them gives."""

# Run by hand with the code of that commit checked out: python tests/data/legacy/make_legacy.py
# (never on import: pytest's doctest collection imports every module under tests/).
import numpy as np
import pandas as pd

import wgangp
from wgangp.tabular import TabularSynthesizer


def main():
    out = "tests/data/legacy"
    rng = np.random.default_rng(0)
    X = rng.normal(size=(96, 3))
    np.save(f"{out}/wgangp_data.npy", X)
    m = wgangp.WGANGP(hidden=8, depth=2, batch_size=32, optimizer="adam", random_state=0).fit(
        X, steps=4
    )
    m.save(f"{out}/wgangp_v1.npz")
    again = wgangp.load(f"{out}/wgangp_v1.npz").partial_fit(X, steps=3)
    np.savez(
        f"{out}/wgangp_v1_resumed.npz",
        *(again.generator_.params + again.critic_.params),
        samples=again.sample(5, random_state=1),
    )
    df = pd.DataFrame(
        {
            "x": rng.normal(size=60),
            "n": rng.integers(0, 5, 60),
            "k": rng.choice(["a", "b", "c"], 60),
        }
    )
    df.to_csv(f"{out}/tabular_data.csv", index=False)
    s = TabularSynthesizer(
        discrete_columns=["k"], hidden=8, critic_hidden=8, latent_dim=4, random_state=0
    ).fit(df, steps=4)
    s.save(f"{out}/tabular_v1.npz")
    s2 = wgangp.load(f"{out}/tabular_v1.npz").partial_fit(df, steps=3)
    np.savez(f"{out}/tabular_v1_resumed.npz", *(s2.generator_.params + s2.critic_.params))
    s2.sample(5, random_state=1).to_csv(f"{out}/tabular_v1_resumed_samples.csv", index=False)
    print("ok")


if __name__ == "__main__":
    main()
