# mtlbench: download -> features -> splits -> train -> tables (and similarity, grouping, robustness).  See README.md.
from snakemake.utils import min_version

min_version("8.10")


configfile: "params.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/splits.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/similarity.smk"
include: "workflow/rules/grouping.smk"
include: "workflow/rules/robustness.smk"


rule all:
    input:
        all_outputs(),
    default_target: True


# coarse targets for dvc.yaml's stages
rule data:
    input:
        [p for d in DATASETS for p in data_of(d)],


rule runs:
    input:
        all_runs(),


rule groupings:
    input:
        grouping_outputs(),
