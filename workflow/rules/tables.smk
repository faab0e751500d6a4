# `snakemake --report report.html`: the tables and figures, by dataset
report: "../report/workflow.rst"


rule table:
    input:
        lambda wc: expand("results/runs/{dataset}/{method}/r{ratio}_s{seed}.json", dataset=wc.dataset,
                          method=METHODS, ratio=wc.ratio, seed=SEEDS),
    output:
        md=report("results/tables/{dataset}_{ratio}_{metric}.md", caption="../report/table.rst",
                  category="{dataset}", subcategory="tables", labels={"ratio": "{ratio}", "metric": "{metric}"}),
        tex="results/tables/{dataset}_{ratio}_{metric}.tex",
        csv="results/tables/{dataset}_{ratio}_{metric}.csv",
    params:
        tasks=lambda wc: tasks_of(wc.dataset),
        methods=",".join(METHODS),
    log:
        "logs/tables/{dataset}_{ratio}_{metric}.log",
    benchmark:
        "logs/benchmarks/tables/{dataset}_{ratio}_{metric}.tsv",
    shell:
        "mtlbench tables --runs {input} --dataset {wildcards.dataset} --tasks {params.tasks}"
        " --methods {params.methods} --ratios {wildcards.ratio} --metrics {wildcards.metric}"
        " --out-dir results/tables > {log} 2>&1"


rule figure:
    input:
        lambda wc: runs_of(wc.dataset),
    output:
        report("results/figures/{dataset}_{metric}_vs_ratio.png", caption="../report/figure.rst",
               category="{dataset}", subcategory="figures", labels={"metric": "{metric}"}),
    params:
        methods=",".join(METHODS),
    log:
        "logs/figures/{dataset}_{metric}.log",
    benchmark:
        "logs/benchmarks/figures/{dataset}_{metric}.tsv",
    shell:
        "mtlbench figure --runs {input} --dataset {wildcards.dataset} --metric {wildcards.metric}"
        " --methods {params.methods} --out {output} > {log} 2>&1"


rule metrics:
    input:
        all_runs,
    output:
        "results/metrics.json",
    log:
        "logs/metrics.log",
    benchmark:
        "logs/benchmarks/metrics.tsv",
    shell:
        "mtlbench metrics --runs {input} --out {output} > {log} 2>&1"


rule relation_heatmap:
    # learned alpha (or divergence) matrices of the AMTNN runs, averaged over seeds
    input:
        lambda wc: expand("results/runs/{dataset}/{method}/r{ratio}_s{seed}.json", dataset=wc.dataset,
                          method=RELATION_METHODS, ratio=wc.ratio, seed=SEEDS),
    output:
        "results/figures/{dataset}_r{ratio}_{relation}_heatmap.png",
    wildcard_constraints:
        relation="alpha|divergence",
    params:
        methods=",".join(RELATION_METHODS),
    log:
        "logs/figures/{dataset}_r{ratio}_{relation}_heatmap.log",
    benchmark:
        "logs/benchmarks/figures/{dataset}_r{ratio}_{relation}_heatmap.tsv",
    shell:
        "mtlbench relation-heatmap --runs {input} --relation {wildcards.relation}"
        " --methods {params.methods} --out {output} > {log} 2>&1"


rule tsne:
    # t-SNE of a run's learned feature space, coloured by task
    input:
        "results/runs/{dataset}/{method}/r{ratio}_s{seed}.json",
    output:
        "results/figures/{dataset}_{method}_r{ratio}_s{seed}_tsne.png",
    params:
        samples=150,
    log:
        "logs/figures/{dataset}_{method}_r{ratio}_s{seed}_tsne.log",
    benchmark:
        "logs/benchmarks/figures/{dataset}_{method}_r{ratio}_s{seed}_tsne.tsv",
    shell:
        "mtlbench tsne --run {input} --samples {params.samples} --out {output} > {log} 2>&1"


rule paper_tables:
    # the VMTL paper's table layouts with our mean ± 95% CI beside its printed values, the
    # audit table (final / best-on-validation / best-on-test of every method) and the claims
    # table (claims.md: paired differences over seeds and a verdict per claim; the FGSM
    # claims read the robustness runs when the dataset has them)
    input:
        runs=lambda wc: runs_of(wc.dataset),
        robustness=lambda wc: robustness_runs_of([wc.dataset], ROBUST["ratios"])
        if wc.dataset in ROBUST["datasets"] else [],
    output:
        directory("results/paper/{dataset}"),
    params:
        tasks=lambda wc: tasks_of(wc.dataset),
        ratios=lambda wc: ",".join(ratios_of(wc.dataset)),
    log:
        "logs/tables/{dataset}_paper.log",
    benchmark:
        "logs/benchmarks/tables/{dataset}_paper.tsv",
    shell:
        "mtlbench paper-tables --runs {input.runs} --robustness-runs {input.robustness}"
        " --dataset {wildcards.dataset} --tasks {params.tasks}"
        " --ratios {params.ratios} --out-dir {output} > {log} 2>&1"
