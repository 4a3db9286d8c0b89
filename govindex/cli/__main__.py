from govindex.cli import main

main()
