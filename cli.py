"""Entry point: ``python cli.py fit --config configs/figure1.yaml`` runs a figure's grid."""

from lightning_app.cli import SweepCLI


def main() -> None:
    SweepCLI()


if __name__ == "__main__":
    main()
