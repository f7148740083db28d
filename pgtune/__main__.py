from pgtune.cli.app import main

main()
