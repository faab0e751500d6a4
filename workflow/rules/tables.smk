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
    shell:
        "mtlbench metrics --runs {input} --out {output} > {log} 2>&1"
