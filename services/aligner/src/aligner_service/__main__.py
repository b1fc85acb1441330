from aligner_service.main import main

main()
